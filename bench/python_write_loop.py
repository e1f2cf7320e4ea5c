# Workload for bench/python.sh: N one-byte os.write calls to /dev/null from one Python line.
import os
import sys


def loop(fd, n):
    data = b"x"
    for _ in range(n):
        os.write(fd, data)


loop(os.open("/dev/null", os.O_WRONLY), int(sys.argv[1]))
