"""What a run of build/asan/probe (test/probe/) printed, for the end-to-end
tests that drive it: its exit status, its output as text, how long it took."""


class ProbeRun:
    """self.rc, self.out (stdout) and self.err (stderr) of the finished
    subprocess p (bytes are decoded), and elapsed, its time in seconds."""
    tail = 2000   # characters of each stream repr() shows

    def __init__(self, p, elapsed):
        self.rc = p.returncode
        self.out = p.stdout.decode(errors="replace")
        self.err = p.stderr.decode(errors="replace")
        self.elapsed = elapsed

    def lines(self, prefix):
        """The rest of each output line that starts with prefix."""
        return [l[len(prefix):] for l in self.out.splitlines() if l.startswith(prefix)]

    def __repr__(self):
        return f"rc={self.rc} out={self.out[-self.tail:]!r} err={self.err[-self.tail:]!r}"
