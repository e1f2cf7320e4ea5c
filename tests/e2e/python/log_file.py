# Victim: logging.FileHandler flushes every record: one write(2) per log call.
import logging


def main():
    log = logging.getLogger("app")
    log.addHandler(logging.FileHandler("app.log"))
    log.setLevel(logging.INFO)
    for i in range(300):
        log.info("event %d", i)  # site: log


main()
