# lab02, bytes and framing: the tests' scripted peer sends "Café au lait\n"
# in three pieces, the first cut in the middle of the é (0xC3 | 0xA9): the
# server's recv() calls take the pieces one by one, and its line reader
# answers once the "\n" has come. Then two lines in one send(): one recv()
# takes both, and two answers go back. (The lab's own client always sends
# whole lines, so the peer does it.)
# (Sourced by tests/tools/trace: the steps are its functions.)
# shellcheck disable=SC2034 # the diagram's title, read by tests/tools/trace
TITLE="a line in pieces, a character cut in two"
# shellcheck disable=SC2034 # read by tests/tools/trace: build the peer first
USES_PEER=1

conversation() {
    server_start
    # The pauses let the server take each piece before the next one comes.
    peer_run peer send 'Caf\xC3' pause 150 send '\xA9 au l' pause 150 send 'ait\n' \
        expect 'OK 13 bytes 12 chars' \
        send 'one\ntwo\n' expect 'OK 3 bytes 3 chars' expect 'OK 3 bytes 3 chars' \
        send 'fin\n' expect 'bye' expect-eof
    wait_exit peer
    wait_exit server # one client, then it stops
}

# TRACE_INPUT=FILE: the lab's client reads FILE, then end of input.
conversation_with_input() {
    server_start
    client_start 1
    feed 1 "$1"
    wait_exit client1
    wait_exit server
}
