build/obj/drivers/winapi/winapi_driver.o: drivers/winapi/winapi_driver.c \
 include/vmbus/channel.h include/vmbus/guid.h include/vmbus/ring.h \
 include/vmbus/packet.h include/winapi/driver.h include/winapi/log.h \
 include/winapi/protocol.h
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/winapi/driver.h:
include/winapi/log.h:
include/winapi/protocol.h:
