# Victim: a client sending each request's header and body in two sends over loopback, then
# waiting for the one-byte answer: a header+body burst before each read.
import socket
import threading

BODY = 100
MESSAGE = len(b"LEN %d\n" % BODY) + BODY


def serve(listener, total):
    conn, _ = listener.accept()
    got = 0
    pending = 0
    while True:
        b = conn.recv(65536)
        if not b:
            break
        got += len(b)
        pending += len(b)
        while pending >= MESSAGE:
            pending -= MESSAGE
            conn.sendall(b"k")
    conn.close()
    total.append(got)


def send_message(sock, body):
    sock.send(b"LEN %d\n" % len(body))  # site: header
    sock.send(body)  # site: body


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    total = []
    t = threading.Thread(target=serve, args=(listener, total))
    t.start()
    c = socket.create_connection(listener.getsockname())
    # No Nagle stall (45 ms per request here): the pattern alone, two sends per request.
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(200):
        send_message(c, b"x" * BODY)
        c.recv(1)
    c.close()
    t.join()
    print(total[0])


main()
