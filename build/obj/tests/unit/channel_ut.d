build/obj/tests/unit/channel_ut.o: tests/unit/channel_ut.c \
 include/vmbus/backend.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h
include/vmbus/backend.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
