# lab04, a chat relay with threads: three clients join one after the other
# (each hears of the later ones), client 1 speaks and the server's reader
# thread for client 1 hands the line to the writer threads of clients 2
# and 3; client 3 leaves (end of its input) and the others hear it; SIGTERM
# stops the server, which closes every connection.
# (Sourced by tests/tools/trace: the steps are its functions.)
# shellcheck disable=SC2034 # the diagram's title, read by tests/tools/trace
TITLE="a chat of three, with a join and a leave"

conversation() {
    server_start
    client_start 1
    expect client1 "welcome client-1"
    client_start 2
    expect client2 "welcome client-2"
    expect client1 "* client-2 joined"
    client_start 3
    expect client3 "welcome client-3"
    expect client1 "* client-3 joined"
    expect client2 "* client-3 joined"
    type_in 1 "hello, all"
    expect client2 "client-1> hello, all"
    expect client3 "client-1> hello, all"
    end_input 3
    expect client1 "* client-3 left"
    expect client2 "* client-3 left"
    wait_exit client3
    server_stop
    wait_exit client1
    wait_exit client2
}

# TRACE_INPUT=FILE: client 1 reads FILE once client 2 has joined to listen.
conversation_with_input() {
    server_start
    client_start 1
    expect client1 "welcome client-1"
    client_start 2
    expect client1 "* client-2 joined"
    feed 1 "$1"
    wait_exit client1
    expect client2 "* client-1 left"
    server_stop
    wait_exit client2
}
