# Victim: a forked child writes at its own line; the parent waits and writes at another.
import os


def child_work(fd):
    for _ in range(150):
        os.write(fd, b"c")  # site: child


def main():
    fd = os.open("out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid == 0:
        child_work(fd)
        os._exit(0)
    os.waitpid(pid, 0)
    for _ in range(120):
        os.write(fd, b"p")  # site: parent
    os.close(fd)


main()
