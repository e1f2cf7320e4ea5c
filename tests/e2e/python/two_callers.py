# Victim: a helper making one os.write, called from two places: two call sites.
import os


def put(fd, data):
    os.write(fd, data)  # site: put


def header(fd):
    put(fd, b"H")  # site: from-header


def body(fd):
    put(fd, b"BB")  # site: from-body


def main():
    fd = os.open("out.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(300):
        header(fd)
        body(fd)
    os.close(fd)


main()
