#!/bin/bash
# Nested-QEMU test of the user-space VMBus driver and the winapi product path against a real
# kernel and a real VMBus host: QEMU's hv-balloon, and the winapi device (drivers/host/qemu)
# in a QEMU that scripts/build-qemu-winapi.sh builds. See tests/vm/README.md.
# Usage: tests/vm/run.sh <probe-binary> <vmbus-bind-script> <bin-dir> [workdir]
#   <bin-dir> holds winapi-test and winapi-pmd (the build's bin/)
#
# Outer QEMU (TCG, -cpu max) boots L1 = Debian 6.12; L1 loads kvm_amd and runs L2 under KVM with
# Hyper-V enlightenments, vmbus-bridge, hv-balloon and winapi, once per case (tests/vm/guest-init
# says what each checks):
#   poll, interrupt        (L2 = 6.12)  balloon probe; winapi integration, winapi-pmd, rescind
#   rescind-pmd-poll,      (L2 = 6.12)  rescind under winapi-pmd and two busy clients
#   rescind-pmd-interrupt
#   refuse                 (L2 = 6.1)   the balloon probe and winapi-test refuse: "needs kernel 6.10"
#   boot                   (L2 = 6.12)  Debian booted with systemd and udev, this build's packages
#                                       installed: the device bound and winapi-pmd running by themselves
# Exit status: 0 all checks passed, 1 a check failed, 2 setup error (message names cause and remedy).
#
# Environment (all optional):
#   WINAPI_VM_WORKDIR      cache and log directory when no [workdir] is given (default /var/tmp/winapi-vm-test)
#   WINAPI_VM_TIMEOUT      wall-clock limit of the outer QEMU, seconds (default 1500)
#   WINAPI_VM_L2_TIMEOUT   limit of each inner QEMU, seconds (default 420)
#   WINAPI_VM_CASES        cases to run, space separated (default: all six)
#   WINAPI_VM_DEB_DIR      the packages of make deb, for the boot case (make vm-test passes it)
#   WINAPI_QEMU_CACHE      where the winapi QEMU build is cached (default /var/cache/winapi-qemu)
set -eu

ALL_CASES="poll interrupt rescind-pmd-poll rescind-pmd-interrupt refuse boot"

# The checks each case owes (tests/vm/guest-init); one that never reports counts as failed.
case_checks() {
	case "$1" in
	poll | interrupt) echo "balloon-bind balloon-probe winapi-bind winapi-integration winapi-pmd rescind-direct" ;;
	rescind-pmd-*) echo "winapi-bind rescind-pmd" ;;
	refuse) echo "balloon-refuse winapi-refuse" ;;
	boot) echo "boot-bind boot-pmd boot-call boot-rescind" ;;
	esac
}

say() { echo "vm-test: $*"; }
die() {
	echo "vm-test: error: $*" >&2
	exit 2
}

usage() {
	echo "usage: $0 <probe-binary> <vmbus-bind-script> <bin-dir> [workdir]" >&2
	echo "  bin-dir holds winapi-test and winapi-pmd" >&2
	echo "  workdir defaults to \$WINAPI_VM_WORKDIR or /var/tmp/winapi-vm-test (downloads are cached there)" >&2
	exit 2
}

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	usage
fi
here=$(cd "$(dirname "$0")" && pwd)
probe=$(readlink -f -- "$1") || die "probe binary '$1' not found"
bind_script=$(readlink -f -- "$2") || die "vmbus-bind script '$2' not found"
bin_dir=$(readlink -f -- "$3") || die "bin directory '$3' not found"
work=${4:-${WINAPI_VM_WORKDIR:-/var/tmp/winapi-vm-test}}
outer_timeout=${WINAPI_VM_TIMEOUT:-1500}
l2_timeout=${WINAPI_VM_L2_TIMEOUT:-420}
cases=${WINAPI_VM_CASES:-$ALL_CASES}

if [ ! -f "$probe" ] || [ ! -x "$probe" ]; then
	die "probe binary '$probe' is missing or not executable (build it first)"
fi
if [ ! -f "$bind_script" ] || [ ! -r "$bind_script" ]; then
	die "vmbus-bind script '$bind_script' is missing or unreadable"
fi
head -c 4 "$probe" | grep -q "ELF" || die "'$probe' is not an ELF binary (expected the static vmbus-probe)"
for f in winapi-test winapi-pmd; do
	[ -x "$bin_dir/$f" ] || die "$bin_dir/$f is missing or not executable (build it first: make all)"
done
for f in guest-init l1-init boot-check; do
	[ -f "$here/$f" ] || die "$here/$f is missing (incomplete checkout?)"
done
for c in $cases; do
	case " $ALL_CASES " in
	*" $c "*) ;;
	*) die "unknown case '$c' in WINAPI_VM_CASES (known: $ALL_CASES)" ;;
	esac
done
deb_dir=
case " $cases " in
*" boot "*)
	[ -n "${WINAPI_VM_DEB_DIR:-}" ] || die "the boot case needs the packages: set WINAPI_VM_DEB_DIR to make deb's output (make vm-test does)"
	deb_dir=$(readlink -f -- "$WINAPI_VM_DEB_DIR") || die "WINAPI_VM_DEB_DIR '$WINAPI_VM_DEB_DIR' not found"
	for package in liblowlat1 libvmbus0 winapi-pmd winapi-tools; do
		ls "$deb_dir/${package}_"*.deb > /dev/null 2>&1 || die "no ${package}_*.deb in $deb_dir (make deb builds it)"
	done
	command -v mmdebstrap > /dev/null 2>&1 || die "the boot case needs mmdebstrap (scripts/install-deps.sh deb installs it)"
	;;
esac
case "$outer_timeout$l2_timeout" in
*[!0-9]*) die "WINAPI_VM_TIMEOUT and WINAPI_VM_L2_TIMEOUT must be whole seconds" ;;
esac

start_time=$(date +%s)
elapsed() { echo "$(($(date +%s) - start_time))s"; }

mkdir -p "$work" || die "cannot create workdir '$work'"
work=$(cd "$work" && pwd)

# One run per workdir at a time (the cache is shared, and the machine only has room for one QEMU).
exec 9> "$work/.lock"
if ! flock -w 1200 9; then
	die "another run holds $work/.lock for more than 20 minutes; stop it or use another workdir"
fi

qemu_pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	[ -n "$qemu_pid" ] || return 0
	# $qemu_pid is timeout(1): it passes TERM on to QEMU, and it leads QEMU's process group.
	kill -TERM "$qemu_pid" 2> /dev/null || return 0
	local waited=0
	while [ "$waited" -lt 5 ]; do
		kill -0 "$qemu_pid" 2> /dev/null || return 0
		sleep 1
		waited=$((waited + 1))
	done
	kill -KILL -- "-$qemu_pid" 2> /dev/null || kill -KILL "$qemu_pid" 2> /dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Host packages

# shellcheck source=/dev/null
[ -r /etc/os-release ] && . /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	die "this harness needs Debian bookworm (found '${PRETTY_NAME:-unknown}'): it uses bookworm-backports for QEMU >= 8.2 and kernel 6.12"

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1: run as root (or install it by hand: $2)"
}

apt_log=$work/apt.log
# Runs an apt-get command quietly; on failure shows its output and stops with message $1.
apt_run() {
	local what=$1
	shift
	if ! DEBIAN_FRONTEND=noninteractive apt-get "$@" > "$apt_log" 2>&1; then
		sed 's/^/    /' "$apt_log" | tail -n 30 >&2
		die "$what"
	fi
}

apt_updated=
apt_update() {
	need_root "package lists must be refreshed" "apt-get update"
	say "apt-get update"
	apt_run "apt-get update failed: check the network and the /etc/apt sources" update
	apt_updated=1
}

has_backports_source() {
	grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
}

has_backports_lists() {
	local policy
	policy=$(apt-cache policy 2> /dev/null || true)
	case "$policy" in *n=bookworm-backports*) return 0 ;; esac
	return 1
}

add_backports_source() {
	need_root "bookworm-backports is not configured" "add bookworm-backports to /etc/apt/sources.list.d"
	local deb822=/etc/apt/sources.list.d/debian.sources stanza=
	if [ -f "$deb822" ]; then
		# Copy the machine's own stanza for the main archive (its mirror and key), changing the suite.
		stanza=$(awk 'BEGIN { RS = "" } /(^|\n)Suites:[^\n]*[ \t]bookworm([ \t]|\n|$)/ { print; exit }' "$deb822")
	fi
	if [ -n "$stanza" ]; then
		printf '%s\n' "$stanza" | sed -e 's/^Suites:.*/Suites: bookworm-backports/' > /etc/apt/sources.list.d/bookworm-backports.sources
	else
		local line
		line=$(grep -hE '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+bookworm[[:space:]]' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2> /dev/null | head -n 1 || true)
		[ -n "$line" ] || die "found no 'bookworm' entry in /etc/apt/sources.list or $deb822 to copy; add bookworm-backports by hand"
		echo "$line" | sed -E 's/^(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+[[:space:]]+)bookworm[[:space:]].*/\1bookworm-backports main/' \
			> /etc/apt/sources.list.d/bookworm-backports.list
	fi
	say "added bookworm-backports to /etc/apt/sources.list.d"
}

qemu_has_balloon() {
	local devices
	command -v qemu-system-x86_64 > /dev/null 2>&1 || return 1
	devices=$(qemu-system-x86_64 -device help 2> /dev/null || true)
	case "$devices" in *'"hv-balloon"'*) return 0 ;; esac
	return 1
}

if ! has_backports_source; then
	add_backports_source
	apt_update
elif ! has_backports_lists; then
	apt_update
fi

missing=
for pair in cpio:cpio xz:xz-utils; do
	command -v "${pair%%:*}" > /dev/null 2>&1 || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
	need_root "missing tools:$missing" "apt-get install$missing"
	[ -n "$apt_updated" ] || apt_update
	say "installing$missing"
	# shellcheck disable=SC2086
	apt_run "apt-get install$missing failed" install -y --no-install-recommends $missing
fi

if ! qemu_has_balloon; then
	need_root "qemu-system-x86_64 with -device hv-balloon is missing" "apt-get install -t bookworm-backports qemu-system-x86"
	[ -n "$apt_updated" ] || apt_update
	say "installing qemu-system-x86 from bookworm-backports"
	apt_run "apt-get install -t bookworm-backports qemu-system-x86 failed" \
		install -y --no-install-recommends -t bookworm-backports qemu-system-x86
	qemu_has_balloon || die "qemu-system-x86_64 ($(qemu-system-x86_64 --version | head -n 1)) has no '-device hv-balloon'; it needs QEMU >= 8.2 from bookworm-backports (apt-get install -t bookworm-backports qemu-system-x86)"
fi
say "$(qemu-system-x86_64 --version | head -n 1) ($(elapsed))"

# The QEMU that runs inside L1: the same version, with the winapi device and the rescind patch.
winapi_qemu=$("$here/../../scripts/build-qemu-winapi.sh") ||
	die "building QEMU with the winapi device failed (see above; scripts/build-qemu-winapi.sh)"
say "L2's QEMU: $winapi_qemu ($(elapsed))"

# ---------------------------------------------------------------------------------------------
# Kernels and busybox, resolved from the package lists at run time and cached in $work/debs

# apt-cache is slow here (about 0.7 s a call when apt keeps no binary cache), so ask it twice in all:
# the candidate names, then one "apt-cache madison" table of "name version suite" for all of them.
load_package_table() {
	local names
	names=$(apt-cache pkgnames linux-image- 2> /dev/null |
		grep -E '^linux-image-(6\.12\.[0-9]+[^ ]*|6\.1\.0-[0-9]+)-amd64$' | grep -vE -- '-(cloud|rt)-amd64$' || true)
	# shellcheck disable=SC2086
	package_table=$(apt-cache madison $names busybox-static 2> /dev/null |
		awk -F'|' '{ gsub(/ /, "", $1); gsub(/ /, "", $2); split($3, uri, " "); sub(/\/.*/, "", uri[2]); print $1, $2, uri[2] }' || true)
}

# Prints "name version" of the newest package in the table whose name matches extended regex $1 and whose
# suite matches $2: the highest name (sort -V: the kernel ABI), and of that name the highest version.
newest_package() {
	local best_name='' best_version='' name version suite
	while read -r name version suite; do
		if ! [[ $name =~ $1 ]] || ! [[ $suite =~ $2 ]]; then
			continue
		fi
		if [ -z "$best_name" ] ||
			{ [ "$name" != "$best_name" ] && [ "$(printf '%s\n' "$best_name" "$name" | sort -V | tail -n 1)" = "$name" ]; } ||
			{ [ "$name" = "$best_name" ] && dpkg --compare-versions "$version" gt "$best_version"; }; then
			best_name=$name
			best_version=$version
		fi
	done <<< "$package_table"
	[ -n "$best_name" ] && echo "$best_name $best_version"
}

resolve_packages() {
	load_package_table
	# Plain flavour (not -dbg, -unsigned, -cloud, -rt): the same kernel and modules as -unsigned.
	k612=$(newest_package '^linux-image-6\.12\.[0-9]+.*-amd64$' '^bookworm-backports$') || return 1
	k61=$(newest_package '^linux-image-6\.1\.0-[0-9]+-amd64$' '^bookworm(-security|-updates)?$') || return 1
	bb=$(newest_package '^busybox-static$' '^bookworm(-security|-updates)?$') || return 1
}

# Prints the path of the cached .deb of package $1 at version $2, downloading it if needed.
fetch_deb() {
	local pkg=$1 version=$2 f
	for f in "$work/debs/${pkg}_"*.deb; do
		if [ -f "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$version" ]; then
			echo "$f"
			return 0
		fi
	done
	rm -f "$work/debs/${pkg}_"*.deb
	say "downloading $pkg $version" >&2
	local sandbox=()
	[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
	(cd "$work/debs" && apt-get download -qq "${sandbox[@]}" "$pkg=$version" >&2) || return 1
	for f in "$work/debs/${pkg}_"*.deb; do
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 1
}

fetch_all() {
	resolve_packages || return 1
	# shellcheck disable=SC2086  # "name version"
	deb612=$(fetch_deb $k612) || return 1
	# shellcheck disable=SC2086
	deb61=$(fetch_deb $k61) || return 1
	# shellcheck disable=SC2086
	debbb=$(fetch_deb $bb) || return 1
}

mkdir -p "$work/debs" "$work/x"
# The archive replaces kernel packages; stale lists then name files that are gone. Refresh once and retry.
if ! fetch_all; then
	[ -z "$apt_updated" ] || die "cannot resolve or download the kernel packages (6.12: '${k612:-none}', 6.1: '${k61:-none}') or busybox-static; check the network and that bookworm-backports is reachable"
	apt_update
	fetch_all || die "cannot resolve or download the kernel packages (6.12: '${k612:-none}', 6.1: '${k61:-none}') or busybox-static after apt-get update; check the network and the apt sources"
fi
say "L1/L2 kernel ${k612% *}, refuse-case kernel ${k61% *} ($(elapsed))"

# Drop cached packages and extractions that the current ones replaced.
for f in "$work/debs/"*.deb; do
	[ -f "$f" ] || continue
	case "$f" in "$deb612" | "$deb61" | "$debbb") ;; *) rm -f "$f" ;; esac
done

# Extracts a .deb once into $work/x/<name>; prints the directory.
extract_deb() {
	local deb=$1 dir
	dir="$work/x/$(basename "$deb" .deb)"
	if [ ! -f "$dir/.extracted" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir" || die "cannot unpack $deb (corrupt download? delete $work/debs and rerun)"
		touch "$dir/.extracted"
	fi
	echo "$dir"
}
x612=$(extract_deb "$deb612")
x61=$(extract_deb "$deb61")
xbb=$(extract_deb "$debbb")
for d in "$work/x/"*; do
	case "$d" in "$x612" | "$x61" | "$xbb") ;; *) rm -rf "$d" ;; esac
done

# The kernel image and module tree inside an extracted linux-image package.
kernel_image() {
	local f
	f=$(find "$1/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
	[ -n "$f" ] || die "no /boot/vmlinuz-* in $1"
	echo "$f"
}
module_tree() {
	local d
	d=$(find "$1/lib/modules" "$1/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d 2> /dev/null | head -n 1)
	[ -n "$d" ] || die "no lib/modules/<version> in $1"
	echo "$d"
}
vmlinuz612=$(kernel_image "$x612")
vmlinuz61=$(kernel_image "$x61")
mods612=$(module_tree "$x612")
mods61=$(module_tree "$x61")
busybox=$xbb/bin/busybox
[ -x "$busybox" ] || die "busybox-static package has no bin/busybox"

# ---------------------------------------------------------------------------------------------
# Initramfs building

# Copies modules $2... from module tree $1, with everything they depend on, decompressed, into
# $root/lib/vmtest-modules and writes the load order (dependencies first) to .../order.
# Module files are found with find; dependencies come from each module's own modinfo (depends=).
install_modules() {
	local tree=$1
	shift
	local dest=$root/lib/vmtest-modules
	mkdir -p "$dest"
	: > "$dest/order"
	local m
	for m in "$@"; do
		add_module "$tree" "$m"
	done
}

module_contents() {
	case "$1" in
	*.ko.xz) xz -dc "$1" ;;
	*.ko.gz) gzip -dc "$1" ;;
	*.ko.zst) zstd -qdc "$1" ;;
	*.ko) cat "$1" ;;
	*) return 1 ;;
	esac
}

add_module() {
	local tree=$1 name=${2//-/_} dest=$root/lib/vmtest-modules file pattern deps dep
	grep -qx "$name.ko" "$dest/order" && return 0
	pattern=${name//_/[-_]}
	file=$(find "$tree" -name "$pattern.ko*" -type f | head -n 1)
	if [ -z "$file" ]; then
		# Built into the kernel: nothing to load.
		grep -qE "/$pattern\.ko$" "$tree/modules.builtin" 2> /dev/null && return 0
		die "kernel module $name not found under $tree (neither a module nor built in)"
	fi
	module_contents "$file" > "$dest/$name.ko.tmp" || die "cannot decompress $file (is zstd installed?)"
	deps=$(tr '\0' '\n' < "$dest/$name.ko.tmp" | sed -n 's/^depends=//p' | head -n 1)
	for dep in ${deps//,/ }; do
		add_module "$tree" "$dep"
	done
	mv "$dest/$name.ko.tmp" "$dest/$name.ko"
	echo "$name.ko" >> "$dest/order"
}

# Creates a root with busybox (every applet linked) and the given /init.
make_root() {
	root=$1
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/lib"
	cp "$busybox" "$root/bin/busybox"
	local applet
	for applet in $("$busybox" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
	done
	ln -sf ../../bin/busybox "$root/usr/bin/env"
	install -m 0755 "$2" "$root/init"
}

# Copies an executable and the shared libraries it links into $root. A library from outside the
# system's directories (the build's own liblowlat) goes to /lib, which the loader searches.
copy_with_libs() {
	local exe=$1 target=$2 lib dest
	install -D -m 0755 "$exe" "$root$target"
	for lib in $(ldd "$exe" 2> /dev/null | grep -o '/[^ ]*' || true); do
		case "$lib" in
		/lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) dest=$lib ;;
		*) dest=/lib/$(basename "$lib") ;;
		esac
		# 0755: the dynamic loader among them must be executable.
		[ -e "$root$dest" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$dest"
	done
}

make_cpio() {
	(set -o pipefail && cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$2.tmp" ||
		die "building $2 failed (disk full?)"
	mv "$2.tmp" "$2"
}

build=$work/build
mkdir -p "$build"

# L2: one initramfs per kernel, each with the binaries under test.
if ldd "$probe" 2> /dev/null | grep -q '=>'; then
	say "note: $probe is dynamically linked; copying its libraries into the L2 initramfs"
fi
for k in 6.12 6.1; do
	make_root "$build/l2-$k" "$here/guest-init"
	if [ "$k" = 6.12 ]; then tree=$mods612; else tree=$mods61; fi
	install_modules "$tree" hv_vmbus uio uio_hv_generic
	copy_with_libs "$probe" /bin/vmbus-probe
	copy_with_libs "$bin_dir/winapi-test" /bin/winapi-test
	copy_with_libs "$bin_dir/winapi-pmd" /bin/winapi-pmd
	install -m 0755 "$bind_script" "$root/bin/vmbus-bind"
	make_cpio "$root" "$build/initrd-l2-$k.gz"
done

# The boot case's L2: Debian with systemd and udev from an initramfs (systemd is /init), this
# build's packages installed with dpkg as a user's apt would, and nothing else of ours but the
# checks (tests/vm/boot-check, run by a unit once the system is up). The base (minbase, systemd,
# udev and the packages' dependencies) is cached by what it holds.
build_boot_root() {
	local base version
	base=$("$here/../../scripts/mmdebstrap-base.sh" "$work" boot-base bookworm minbase \
		systemd-sysv,udev,kmod,adduser,libnuma1,liburcu8,libisal2,libjansson4 \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*') ||
		die "no base root for the boot case (above; scripts/mmdebstrap-base.sh)"
	root=$build/l2-boot
	rm -rf --one-file-system "$root"
	mkdir -p "$root"
	tar -xf "$base" -C "$root"
	mkdir -p "$root/tmp/debs"
	cp "$deb_dir"/liblowlat1_*.deb "$deb_dir"/libvmbus0_*.deb "$deb_dir"/winapi-pmd_*.deb \
		"$deb_dir"/winapi-tools_*.deb "$root/tmp/debs/"
	if ! chroot "$root" sh -c 'dpkg -i /tmp/debs/*.deb' > "$build/boot-dpkg.log" 2>&1; then
		tail -n 20 "$build/boot-dpkg.log" >&2
		die "installing the packages into the boot case's root failed (a dependency missing from the base?)"
	fi
	rm -rf "$root/tmp/debs"
	# The modules the device needs, from the 6.12 package; udev and vmbus-bind load them.
	version=$(basename "$mods612")
	install_modules "$mods612" hv_vmbus uio uio_hv_generic
	mkdir -p "$root/lib/modules/$version/extra"
	mv "$root/lib/vmtest-modules/"*.ko "$root/lib/modules/$version/extra/"
	rm -rf "$root/lib/vmtest-modules"
	cp "$mods612"/modules.builtin* "$mods612/modules.order" "$root/lib/modules/$version/"
	chroot "$root" depmod "$version" || die "depmod in the boot case's root failed"
	# hv_vmbus at boot (the VMBus ACPI device has no alias udev would load it by).
	echo hv_vmbus > "$root/etc/modules-load.d/vmtest.conf"
	install -m 0755 "$here/boot-check" "$root/usr/local/sbin/vmtest-boot-check"
	cat > "$root/etc/systemd/system/vmtest-boot-check.service" <<-UNIT
		[Unit]
		Description=vm-test boot case checks
		After=multi-user.target
		[Service]
		Type=oneshot
		ExecStart=/usr/local/sbin/vmtest-boot-check
		StandardOutput=tty
		StandardError=tty
		TTYPath=/dev/console
		[Install]
		WantedBy=multi-user.target
	UNIT
	ln -sf /etc/systemd/system/vmtest-boot-check.service \
		"$root/etc/systemd/system/multi-user.target.wants/vmtest-boot-check.service"
	# The console is the checks': no login prompt on it.
	ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
	ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
	ln -sf multi-user.target "$root/etc/systemd/system/default.target"
	echo vmtest > "$root/etc/hostname"
	chroot "$root" useradd --create-home --groups winapi vmtest || die "useradd in the boot case's root failed"
	ln -sf /lib/systemd/systemd "$root/init"
	make_cpio "$root" "$build/initrd-l2-6.12-boot.gz"
	rm -rf --one-file-system "$root"
}
if [ -n "$deb_dir" ]; then
	build_boot_root
fi

# L1: QEMU, its libraries and firmware, the kvm modules, both L2 kernels and initramfs images.
make_root "$build/l1" "$here/l1-init"
install_modules "$mods612" kvm_amd
copy_with_libs "$winapi_qemu" /usr/bin/qemu-system-x86_64
mkdir -p "$root/usr/share/qemu"
for fw in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
	src=
	for dir in /usr/share/qemu /usr/share/seabios; do
		[ -e "$dir/$fw" ] && src=$(readlink -f "$dir/$fw") && break
	done
	[ -n "$src" ] || die "QEMU firmware $fw not found in /usr/share/qemu or /usr/share/seabios (reinstall qemu-system-x86 and seabios)"
	cp "$src" "$root/usr/share/qemu/$fw"
done
mkdir -p "$root/l2"
cp "$vmlinuz612" "$root/l2/vmlinuz-6.12"
cp "$vmlinuz61" "$root/l2/vmlinuz-6.1"
cp "$build/initrd-l2-6.12.gz" "$root/l2/initrd-6.12.gz"
cp "$build/initrd-l2-6.1.gz" "$root/l2/initrd-6.1.gz"
if [ -n "$deb_dir" ]; then
	cp "$build/initrd-l2-6.12-boot.gz" "$root/l2/initrd-6.12-boot.gz"
fi
make_cpio "$root" "$build/initrd-l1.gz"
rm -rf "$build/l1" "$build/l2-6.12" "$build/l2-6.1"
say "initramfs images built, L1 $(du -h "$build/initrd-l1.gz" | cut -f1) ($(elapsed))"

# ---------------------------------------------------------------------------------------------
# Run

log=$work/serial.log
qemu_err=$work/qemu-outer.stderr

# boot_l1 <cases> <serial log>: one outer QEMU running the cases; its text without CRs next to the log.
boot_l1() {
	local l1_cases l1_start
	rm -f "$2" "$qemu_err"
	l1_cases=$(echo "$1" | tr -s ' ' ',')
	say "booting L1 under TCG, cases: $1 (limit ${outer_timeout}s, log: $2)"
	l1_start=$(date +%s)
	timeout -k 10 "$outer_timeout" qemu-system-x86_64 \
		-machine q35,accel=tcg -m 3072 -smp 2 -cpu max \
		-kernel "$vmlinuz612" -initrd "$build/initrd-l1.gz" \
		-append "console=ttyS0 panic=-1 loglevel=4 vmtest_cases=$l1_cases vmtest_l2_timeout=$l2_timeout" \
		-nodefaults -display none -monitor none -serial "file:$2" -no-reboot \
		< /dev/null > /dev/null 2> "$qemu_err" &
	qemu_pid=$!
	# A hung L1 (seen: idle, its timers no longer firing) would sit until the outer limit. L1
	# always writes within an L2's time limit (at worst its VMTEST_L2_TIMEOUT), so a log that
	# stays still longer than that means L1 itself stopped.
	l1_hung=
	local size last_size=-1 quiet_since quiet_limit=$((l2_timeout + 90))
	quiet_since=$(date +%s)
	while kill -0 "$qemu_pid" 2> /dev/null; do
		size=$(stat -c %s "$2" 2> /dev/null || echo 0)
		if [ "$size" != "$last_size" ]; then
			last_size=$size
			quiet_since=$(date +%s)
		elif [ $(($(date +%s) - quiet_since)) -ge "$quiet_limit" ]; then
			say "L1 wrote nothing for ${quiet_limit}s, longer than any L2 may run: L1 hung; stopping it"
			l1_hung=1
			kill -TERM "$qemu_pid" 2> /dev/null || true
			break
		fi
		sleep 5
	done
	qemu_rc=0
	wait "$qemu_pid" || qemu_rc=$?
	qemu_pid=
	say "outer QEMU exited with status $qemu_rc after $(($(date +%s) - l1_start))s"
	[ "$qemu_rc" -ne 124 ] || say "outer QEMU hit the ${outer_timeout}s limit (WINAPI_VM_TIMEOUT) and was stopped"
	if [ -s "$qemu_err" ]; then
		say "outer QEMU stderr:"
		sed 's/^/    /' "$qemu_err"
	fi
	[ -f "$2" ] || die "no serial log written ($2); the outer QEMU did not start (see the stderr above)"
	tr -d '\r' < "$2" > "${2%.log}.txt"
}

# Whether L1 itself went down: it hung (see boot_l1), or the outer QEMU ended by itself (not at
# its time limit) before L1 printed VMTEST_L1_DONE, through a kernel panic (panic=-1 reboots,
# -no-reboot ends QEMU) or a reset. An L2 that crashes or hangs does not do this: L1 reports its
# exit and goes on.
l1_crashed() {
	[ -z "$l1_hung" ] || return 0
	! grep -aq VMTEST_L1_DONE "$1" && [ "$qemu_rc" -ne 124 ] && [ "$qemu_rc" -ne 137 ]
}

boot_l1 "$cases" "$log"
text=$work/serial.txt
# L1 runs KVM on the SVM that TCG emulates; it has been seen to go down there under load (a
# kernel panic, "corrupted stack end detected inside scheduler" in a thread of L2's QEMU, or a
# silent reset), a failure of the emulation the test stands on, not of what it tests. The cases
# L1 did not finish run once more, in a fresh outer QEMU; a second crash counts against them.
retry_cases=
retry_text=
if l1_crashed "$text"; then
	for c in $cases; do
		grep -aq "VMTEST_RESULT $c " "$text" || retry_cases="$retry_cases $c"
	done
	retry_cases=${retry_cases# }
	say "L1 went down before it finished (outer QEMU status $qemu_rc; see the end of $log); running again: $retry_cases"
	boot_l1 "$retry_cases" "$work/serial-retry.log"
	retry_text=$work/serial-retry.txt
fi

# case_text <case>: the log that has the case's final run.
case_text() {
	case " $retry_cases " in
	*" $1 "*) echo "$retry_text" ;;
	*) echo "$text" ;;
	esac
}
last_text=${retry_text:-$text}

# case_run <case>: its log from the start of its last L2 on (L1 boots an L2 that hung once more).
case_run() {
	awk -v start="VMTEST_L2_START $1 " 'index($0, start) { run = "" } { run = run $0 "\n" } END { printf "%s", run }' \
		"$(case_text "$1")"
}

# ---------------------------------------------------------------------------------------------
# Verdict

show() {
	echo "----- $1"
	sed 's/^/    /'
	echo "-----"
}

passed=0
failed=0
report=
show_tail=
for c in $cases; do
	case_failed=
	ctext=$(case_text "$c")
	crun=$(case_run "$c")
	if grep -aq "VMTEST_L2_HUNG $c:" "$ctext"; then
		report="${report}vm-test: $c: L2 stood still until its limit with no check failed; its second run counts"$'\n'
	fi
	for check in $(case_checks "$c"); do
		line=$(printf '%s\n' "$crun" | grep -ao "VMTEST_CHECK $c $check [A-Z].*" | head -n 1 || true)
		case "$line" in
		"VMTEST_CHECK $c $check PASS"*)
			passed=$((passed + 1))
			report="${report}vm-test: $c $check: PASS"$'\n'
			continue
			;;
		esac
		failed=$((failed + 1))
		case_failed=1
		if [ -n "$line" ]; then
			report="${report}vm-test: $c $check: ${line#"VMTEST_CHECK $c $check "}"$'\n'
		else
			report="${report}vm-test: $c $check: FAIL (never reported)"$'\n'
		fi
	done
	[ -n "$case_failed" ] || continue
	exit_line=$(grep -ao "VMTEST_L2_EXIT $c rc=[0-9a-z]*" "$ctext" | tail -n 1 || true)
	if ! printf '%s\n' "$crun" | grep -aq "VMTEST_RESULT $c "; then
		if [ -n "$exit_line" ]; then
			say "$c: L2 printed no result (${exit_line#VMTEST_L2_EXIT }; 137 = killed at the ${l2_timeout}s L2 limit)"
		else
			say "$c: L2 never finished (L1 did not reach or did not complete this case)"
		fi
	fi
	if grep -aq "VMTEST_L2_START $c " "$ctext"; then
		sed -n "/VMTEST_L2_START $c /,/VMTEST_L2_EXIT $c /p" "$ctext" | show "L2 serial output of case $c"
	else
		show_tail=1
	fi
done
if ! grep -aq VMTEST_L1_DONE "$last_text"; then
	say "L1 did not finish (no VMTEST_L1_DONE): timed out or crashed"
	show_tail=1
fi
if [ -n "$show_tail" ]; then
	tail -n 80 "$last_text" | show "last 80 lines of the serial log (${last_text%.txt}.log)"
fi

for c in $cases; do
	case_run "$c" | grep -ao "VMTEST_RESCIND_TIME $c .*" || true
done | sed 's/^VMTEST_RESCIND_TIME /vm-test: rescind to last exit: /' || true
printf '%s' "$report"
say "$passed checks passed, $failed failed, in $(echo "$cases" | wc -w) cases ($(elapsed) in all)"
[ "$failed" -eq 0 ] || exit 1
exit 0
