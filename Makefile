# sockets-lab: TCP sockets in C, lab by lab. `make help` says what is here.

LABS := $(patsubst %/,%,$(sort $(wildcard lab0*-*/)))
SOLUTIONS := $(addprefix solutions/,$(LABS))

# LAB=lab01-blocking or LAB=01 narrows check and test to one lab.
LAB ?=
# VALGRIND=1 runs every server and client under Valgrind memcheck
# (VALGRIND=helgrind: under Helgrind, Valgrind's thread checker).
VALGRIND ?= 0
# SANITIZE=address,undefined (or thread) builds with those sanitizers.
SANITIZE ?=
export LAB VALGRIND SANITIZE

# Build every lab folder and every solution.
all:
	@for dir in $(LABS) $(SOLUTIONS); do $(MAKE) -s -C $$dir || exit 1; done

# Your progress: build and test your own lab folders, print the table.
check:
	@tests/run check

# The repository's own suite: every solution passes every test, every
# skeleton builds without a warning and does not pass already.
test:
	@tests/run test

# Remove everything built.
clean:
	@for dir in $(LABS) $(SOLUTIONS) tests/helpers tests/unit bench; do \
	    [ -f $$dir/Makefile ] && $(MAKE) -s -C $$dir clean; done; true

# Show what each target does.
help:
	@echo "make              build every lab and solution"
	@echo "make check        test your lab folders, print your progress (LAB=01 for one lab, in detail)"
	@echo "make test         test the solutions and the skeletons (the repository's own suite);"
	@echo "                  in plain mode lab03 and lab04 also run behind BSD's accept() (tests/helpers/nonblock_accept.so)"
	@echo "make clean        remove what was built"
	@echo "options:"
	@echo "  LAB=01                   only that lab (or LAB=lab01-blocking)"
	@echo "  VALGRIND=1               run every server and client under Valgrind memcheck"
	@echo "  VALGRIND=helgrind        the same under Helgrind, the thread checker (lab04)"
	@echo "  SANITIZE=address,undefined   build with sanitizers (SANITIZE=thread for lab04)"
	@echo "labs: $(LABS)"

.PHONY: all check test clean help
