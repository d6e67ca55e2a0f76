# sockets-lab: TCP sockets in C, lab by lab. `make help` says what is here.

LABS := $(patsubst %/,%,$(sort $(wildcard lab0*-*/)))
# (A student release has no solutions/ folder: see make student-release.)
SOLUTIONS := $(patsubst %/,%,$(sort $(wildcard solutions/lab0*-*/)))

# LAB=lab01-blocking or LAB=01 narrows check and test to one lab.
LAB ?=
# VALGRIND=1 runs every server and client under Valgrind memcheck
# (VALGRIND=helgrind: under Helgrind, Valgrind's thread checker).
VALGRIND ?= 0
# SANITIZE=address,undefined (or thread) builds with those sanitizers.
SANITIZE ?=
# ALL=1: make check runs every step, not stopping at the first failing one.
# STEP=N and LEVEL=N for make hint; MINE=1 for make diff.
ALL ?= 0
# SHOW=1: make check prints every line the tests printed for the failing step.
# HINT_LANG=fr (or a French locale, LANG=fr_FR.UTF-8): make check and make
# hint speak French; HINT_LANG=en: English. (Read from the environment.)
SHOW ?= 0
STEP ?=
LEVEL ?=
MINE ?= 0
# Instructors: SUBMISSIONS=DIR (one folder per student) and OUT=DIR for
# make grade; MEMCHECK=1 adds a memcheck pass; EXTRA_TESTS=DIR adds Bats
# files the students never saw; JOBS=N students at once. OUT=DIR or FILE
# for make student-release and make gradescope.
SUBMISSIONS ?=
OUT ?=
MEMCHECK ?= 0
EXTRA_TESTS ?=
JOBS ?=
export LAB VALGRIND SANITIZE ALL SHOW STEP LEVEL MINE SUBMISSIONS OUT MEMCHECK EXTRA_TESTS JOBS

# Build every lab folder and every solution.
all:
	@for dir in $(LABS) $(SOLUTIONS); do $(MAKE) -s -C $$dir || exit 1; done

# Your progress: build and test your own lab folders step by step, print
# the first failing step of each lab and the table. While a lab is not
# done it exits non-zero, and make adds its own "Error 1" line.
check:
	@tests/tools/check

# A hint for the step make check named (STEP=N for another), one level
# more at each call.
hint:
	@tests/tools/hint

# make check LAB=NN again each time a file of the lab is saved.
watch:
	@tests/tools/watch

# What the reference of lab NN changed from lab NN-1 (MINE=1: your lab
# against the reference, once it is done).
diff:
	@tests/tools/diff

# make check under Valgrind memcheck, every step, with a summary.
memcheck:
	@MEMCHECK=1 tests/tools/check

# The repository's own suite: every solution passes every test, every
# skeleton builds without a warning and does not pass already.
test:
	@tests/run test

# Fault injection against the solutions (tests/faults.bats: EINTR, no
# descriptors left, a 200 MB line, connect-and-reset storms, churn under
# the sanitizers).
test-faults:
	@tests/run faults

# The benchmark (bench/all): round trips, memory and CPU per client, a slow
# consumer, the lab04 relay against ncat --broker; a table and a CSV.
bench:
	@if [ -x bench/all ]; then bench/all; else echo "make bench measures the \
	reference solutions, and this copy of the course has none (a student copy)" >&2; exit 2; fi

# Fuzzing lab02's line reader and UTF-8 checker (FUZZ_SECONDS=60 each);
# LAB=02: your own lab02 modules, with the first disagreement explained.
fuzz:
	@tests/tools/fuzz

# A session of lab NN's server and client under strace, drawn as a
# sequence diagram (SOLUTION=1: the reference; TRACE_INPUT=FILE).
trace:
	@tests/tools/trace

# Instructors (these tools are not part of a student release):
# grade every student's labs in SUBMISSIONS=DIR, safely, into OUT=DIR.
grade:
	@$(call instructor_tool,grade)

# The Gradescope autograder bundle (OUT=FILE, default autograder.zip).
gradescope:
	@$(call instructor_tool,gradescope)

# A copy of the course for students in OUT=DIR: no solutions/, no
# instructor material.
student-release:
	@$(call instructor_tool,release)

# instructor_tool NAME: runs tests/tools/NAME, or says why it is absent.
instructor_tool = if [ -x tests/tools/$(1) ]; then tests/tools/$(1); else \
	echo "make $@: an instructor's tool, not part of this copy of the course" >&2; exit 2; fi

# Remove everything built.
clean:
	@for dir in $(LABS) $(SOLUTIONS) tests/helpers tests/unit bench; do \
	    [ -f $$dir/Makefile ] && $(MAKE) -s -C $$dir clean; done; true

# Show what each target does.
help:
	@echo "make              build every lab and solution"
	@echo "make check        test your lab folders step by step, show the first failing step (LAB=01: one lab; ALL=1: every step)"
	@echo "make hint LAB=01  a hint for the step to do (STEP=N for another; each call gives the next level, LEVEL=1 starts again)"
	@echo "make watch LAB=01 make check LAB=01 again each time you save a file of the lab"
	@echo "make diff LAB=02  what the reference of lab02 changed from lab01's (MINE=1: your lab against the reference, once done)"
	@echo "make memcheck LAB=01   the lab's tests under Valgrind memcheck, with a summary"
	@echo "make test         test the solutions and the skeletons (the repository's own suite);"
	@echo "                  in plain mode lab03 and lab04 also run behind BSD's accept() (tests/helpers/nonblock_accept.so)"
	@echo "make test-faults  the solutions under injected faults (EINTR, descriptors, huge lines, resets, churn)"
	@echo "make bench        the benchmark: round trips, memory per client, a slow consumer, relay vs ncat (< 3 min)"
	@echo "make fuzz         fuzz lab02's line reader and UTF-8 checker (FUZZ_SECONDS=60; LAB=02: your own modules)"
	@echo "make trace LAB=01 your lab's server and client, call by call, as a sequence diagram (SOLUTION=1: the reference)"
	@echo "make clean        remove what was built"
	@echo "instructors:"
	@echo "make grade SUBMISSIONS=DIR [OUT=DIR]   grade every student folder in DIR (MEMCHECK=1, EXTRA_TESTS=DIR, JOBS=N)"
	@echo "make gradescope [OUT=FILE]              the Gradescope autograder zip"
	@echo "make student-release OUT=DIR            a copy for students, without solutions/ or instructor material"
	@echo "options:"
	@echo "  LAB=01                   only that lab (or LAB=lab01-blocking)"
	@echo "  VALGRIND=1               run every server and client under Valgrind memcheck"
	@echo "  VALGRIND=helgrind        the same under Helgrind, the thread checker (lab04)"
	@echo "  SANITIZE=address,undefined   build with sanitizers (SANITIZE=thread for lab04)"
	@echo "  HINT_LANG=fr             make check's and make hint's words in French (the default with LANG=fr_FR...; HINT_LANG=en: English)"
	@echo "labs: $(LABS)"

.PHONY: all check hint watch diff memcheck test test-faults bench fuzz trace grade gradescope student-release clean help
