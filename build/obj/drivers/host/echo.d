build/obj/drivers/host/echo.o: drivers/host/echo.c \
 drivers/host/host_private.h include/winapi/host.h \
 include/vmbus/channel.h include/vmbus/guid.h include/vmbus/ring.h \
 include/vmbus/packet.h include/winapi/protocol.h
drivers/host/host_private.h:
include/winapi/host.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/winapi/protocol.h:
