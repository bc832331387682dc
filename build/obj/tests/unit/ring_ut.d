build/obj/tests/unit/ring_ut.o: tests/unit/ring_ut.c include/vmbus/ring.h \
 include/vmbus/packet.h
include/vmbus/ring.h:
include/vmbus/packet.h:
