# Victim: a client sending each message's header and body in two sends over loopback.
import socket
import threading


def serve(listener, total):
    conn, _ = listener.accept()
    got = 0
    while True:
        b = conn.recv(65536)
        if not b:
            break
        got += len(b)
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
    for _ in range(200):
        send_message(c, b"x" * 100)
    c.close()
    t.join()
    print(total[0])


main()
