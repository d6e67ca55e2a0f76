# lab01, a turn-by-turn dialogue: the server blocks in accept() until the
# client connects, then in read() until each line comes; the client sends a
# line only once the answer to the previous one has arrived.
# (Sourced by tests/tools/trace: the steps are its functions.)
# shellcheck disable=SC2034 # the diagram's title, read by tests/tools/trace
TITLE="a turn-by-turn dialogue"

conversation() {
    server_start
    client_start 1
    expect client1 "connected to"
    type_in 1 "hello"
    expect client1 "OK"
    type_in 1 "how are you?"
    expect client1 "OK"
    type_in 1 "fin"
    expect client1 "bye"
    wait_exit client1
    wait_exit server # lab01's server serves one client, then stops
}

# TRACE_INPUT=FILE: the client reads FILE, then end of input.
conversation_with_input() {
    server_start
    client_start 1
    feed 1 "$1"
    wait_exit client1
    wait_exit server
}
