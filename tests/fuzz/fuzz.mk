# Builds the libFuzzer targets with clang, straight from the project's sources (no CMake, so the
# same binaries whatever the surrounding build type). run.sh drives it:
#   make -f tests/fuzz/fuzz.mk -C <build dir> ROOT=<repository> fuzz_wire ...
# Only the parser and codec sources are compiled in: no httplib, NATS or SQLite.
ROOT ?= ../..
FUZZ_CXX ?= clang++-14
FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
         -std=c++20 -O1 -g -Wall -Wextra
INCLUDES := -I$(ROOT)/coordinator/src -I$(ROOT)/participant-sdk/include -I$(ROOT)/tests/fuzz \
            -I$(ROOT)/participant-sdk/src -I$(ROOT)/tests/support

WIRE := wire.o json_fields.o json_text.o status.o
API := request_parser.o json_duplicate_keys.o transaction.o $(WIRE)

TARGETS := fuzz_begin_request fuzz_list_query fuzz_wire
all: $(TARGETS)
fuzz_begin_request: fuzz_begin_request.o $(API)
fuzz_list_query: fuzz_list_query.o $(API)
fuzz_wire: fuzz_wire.o $(WIRE)
$(TARGETS):
	$(FUZZ_CXX) $(FLAGS) $^ -o $@

COMPILE = $(FUZZ_CXX) $(FLAGS) $(INCLUDES) -MMD -MP -c $< -o $@
fuzz_%.o: $(ROOT)/tests/fuzz/fuzz_%.cpp
	$(COMPILE)
wire.o: $(ROOT)/participant-sdk/src/wire.cpp
	$(COMPILE)
json_fields.o: $(ROOT)/participant-sdk/src/json_fields.cpp
	$(COMPILE)
json_text.o: $(ROOT)/participant-sdk/src/json_text.cpp
	$(COMPILE)
status.o: $(ROOT)/participant-sdk/src/status.cpp
	$(COMPILE)
request_parser.o: $(ROOT)/coordinator/src/api/request_parser.cpp
	$(COMPILE)
json_duplicate_keys.o: $(ROOT)/coordinator/src/api/json_duplicate_keys.cpp
	$(COMPILE)
transaction.o: $(ROOT)/coordinator/src/core/transaction.cpp
	$(COMPILE)

.PHONY: all
-include $(wildcard *.d)
