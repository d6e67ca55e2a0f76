# lab03, one thread, many clients: two clients talk in turn, then both
# send a line while the server is stopped (SIGSTOP): once it goes on
# (SIGCONT), one select() reports both sockets ready and one pass of the
# loop reads and answers both. Then client 2 vanishes (killed: its system
# closes its socket) and the server sees end of file; client 1 says fin;
# SIGTERM stops the server through its self-pipe.
# (Sourced by tests/tools/trace: the steps are its functions.)
# shellcheck disable=SC2034 # the diagram's title, read by tests/tools/trace
TITLE="two clients, one select() loop, one client that vanishes"

conversation() {
    server_start
    client_start 1
    expect server "client 1 connected"
    client_start 2
    expect server "client 2 connected"
    type_in 1 "hello from 1"
    expect client1 "OK 12 bytes 12 chars"
    type_in 2 "hi from 2"
    expect client2 "OK 9 bytes 9 chars"
    # Both lines wait in the server's sockets before it looks: no race.
    server_pause
    type_in 1 "one"
    type_in 2 "two"
    wait_unread 2
    server_resume
    expect client1 "OK 3 bytes 3 chars"
    expect client2 "OK 3 bytes 3 chars"
    vanish 2
    expect server "client 2 disconnected"
    type_in 1 "fin"
    expect client1 "bye"
    wait_exit client1
    server_stop
}

# TRACE_INPUT=FILE: one client reads FILE, then end of input.
conversation_with_input() {
    server_start
    client_start 1
    feed 1 "$1"
    wait_exit client1
    server_stop
}
