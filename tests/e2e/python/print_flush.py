# Victim: print(flush=True) in a loop, one write(2) per row, all from one line.
import sys


def emit(n):
    for i in range(n):
        print("row", i, flush=True)  # site: print


emit(int(sys.argv[1]))
