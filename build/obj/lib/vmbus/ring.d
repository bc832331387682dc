build/obj/lib/vmbus/ring.o: lib/vmbus/ring.c include/vmbus/ring.h \
 include/vmbus/packet.h
include/vmbus/ring.h:
include/vmbus/packet.h:
