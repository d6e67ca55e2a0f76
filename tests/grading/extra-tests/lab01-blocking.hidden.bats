#!/usr/bin/env bats
# An instructor's test: students never saw it.
# points: 20
load helpers/lab
setup_file() { lab_setup_file; }
setup() { lab_setup; }
teardown() { lab_teardown; }
@test "hidden: the server answers OK to a line" {
    server_start_ready 0
    talk send 'hello\n' expect 'OK'
}
@test "hidden: a second line is answered too" {
    server_start_ready 0
    talk send 'a\n' expect 'OK' send 'b\n' expect 'OK'
}
