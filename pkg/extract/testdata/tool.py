"""Widget tools."""

import sys


def count(widgets):
    """Count widgets."""
    total = 0

    for w in widgets:
        total += 1
    return total


class Painter:
    def paint(self, color):
        return color


if __name__ == "__main__":
    print(count(sys.argv))
