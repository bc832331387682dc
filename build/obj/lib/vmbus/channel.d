build/obj/lib/vmbus/channel.o: lib/vmbus/channel.c lib/vmbus/private.h \
 include/vmbus/backend.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h
lib/vmbus/private.h:
include/vmbus/backend.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
