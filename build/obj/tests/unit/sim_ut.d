build/obj/tests/unit/sim_ut.o: tests/unit/sim_ut.c \
 include/vmbus/backend.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h include/vmbus/sim.h \
 tests/unit/../../drivers/bus/sim/sim_wire.h
include/vmbus/backend.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
include/vmbus/sim.h:
tests/unit/../../drivers/bus/sim/sim_wire.h:
