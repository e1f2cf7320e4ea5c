# Victim: four threads writing one byte at a time to one file; each thread's frames are its own.
import os
import threading


def worker(fd, tag):
    for _ in range(200):
        os.write(fd, tag)  # site: worker


def main():
    fd = os.open("out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    threads = [threading.Thread(target=worker, args=(fd, b"%d" % k)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.write(fd, b"\n")  # site: main-end
    os.close(fd)


main()
