build/obj/lib/vmbus/guid.o: lib/vmbus/guid.c include/vmbus/guid.h
include/vmbus/guid.h:
