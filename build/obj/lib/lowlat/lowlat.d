build/obj/lib/lowlat/lowlat.o: lib/lowlat/lowlat.c include/vmbus/sim.h \
 include/vmbus/channel.h include/vmbus/guid.h include/vmbus/ring.h \
 include/vmbus/packet.h include/winapi/driver.h include/winapi/log.h \
 include/winapi/lowlat.h include/winapi/protocol.h
include/vmbus/sim.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/winapi/driver.h:
include/winapi/log.h:
include/winapi/lowlat.h:
include/winapi/protocol.h:
