# SPDX-License-Identifier: BSD-3-Clause
<#
.SYNOPSIS
Installs winapi-hostd.exe as a Windows service and registers its Hyper-V socket service id,
so that Linux guests (WSL2, Hyper-V VMs) reach it with AF_VSOCK on the given port.

.DESCRIPTION
A Hyper-V socket service must be listed under
HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices
before guests may connect to it. Its id for a guest's AF_VSOCK port is the VSOCK template
00000000-facb-11e6-bd58-64006a7986d3 with the first field set to the port; the script asks the
executable for it (winapi-hostd.exe --service-id), so the two can never disagree.
Run from an elevated PowerShell. -Uninstall removes the service and every registration this
script made (by their ElementName), whatever port they were for; it needs no executable.

.EXAMPLE
.\install-winapi-hostd.ps1 -Executable C:\winapi\winapi-hostd.exe -Port 0x1234
#>
param(
	[string]$Executable = (Join-Path $PSScriptRoot 'winapi-hostd.exe'),
	[string]$Port = '0x1234',
	[string]$VmId = '',
	[switch]$Uninstall
)
$ErrorActionPreference = 'Stop'
$serviceName = 'winapi-hostd'
$registry = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\GuestCommunicationServices'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
	throw 'Run this script from an elevated (Administrator) PowerShell.'
}
# Every registration this script made, whatever port it was for (ElementName says whose).
function Remove-Registrations {
	Get-ChildItem -Path $registry -ErrorAction SilentlyContinue |
		Where-Object { (Get-ItemProperty -Path $_.PSPath -ErrorAction SilentlyContinue).ElementName -like 'winapi-hostd*' } |
		ForEach-Object { Remove-Item -Path $_.PSPath -Recurse; Write-Host "Removed the registration $($_.PSChildName)." }
}

function Remove-WinapiService {
	if (Get-Service -Name $serviceName -ErrorAction SilentlyContinue) {
		Stop-Service -Name $serviceName -ErrorAction SilentlyContinue
		sc.exe delete $serviceName | Out-Null
		Start-Sleep -Seconds 1
	}
}

if ($Uninstall) {
	Remove-WinapiService
	Remove-Registrations
	Write-Host "Removed $serviceName."
	exit 0
}

if (-not (Test-Path $Executable)) {
	throw "No executable at $Executable (build it on Linux with: make windows)."
}
$serviceId = (& $Executable --service-id --port $Port).Trim()
if ($LASTEXITCODE -ne 0 -or $serviceId -notmatch '^[0-9a-f]{8}-facb-11e6-bd58-64006a7986d3$') {
	throw "winapi-hostd.exe --service-id --port $Port failed: '$serviceId'"
}
# The key is the bare GUID, as Hyper-V's own entries and Microsoft's guide write it (no braces).
$key = Join-Path $registry $serviceId

# A reinstall, perhaps on another port: the old service and registrations go first.
Remove-WinapiService
Remove-Registrations

# The registration: one key per service id; ElementName is what Hyper-V shows for it.
New-Item -Path $key -Force | Out-Null
New-ItemProperty -Path $key -Name 'ElementName' -Value "winapi-hostd (port $Port)" -PropertyType String -Force | Out-Null

$arguments = "--port $Port"
if ($VmId -ne '') { $arguments += " --vm-id $VmId" }
New-Service -Name $serviceName -BinaryPathName "`"$((Resolve-Path $Executable).Path)`" $arguments" `
	-DisplayName 'winapi remoting host service' -StartupType Automatic `
	-Description 'Serves the winapi APIs to Linux guests over Hyper-V sockets.' | Out-Null
Start-Service -Name $serviceName
Write-Host "Installed $serviceName on Hyper-V service id $serviceId (guest: AF_VSOCK port $Port)."
