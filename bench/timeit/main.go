//go:build linux

// Command timeit runs a command and appends its wall time in seconds, its
// peak resident set size in MiB (the kernel's rusage maxrss of the child)
// and the CPU seconds it used (user and system) as one line
// "SECONDS MB CPU" to the file -o, for bench/cli.sh. It is
// /usr/bin/time -f '%e %M' with millisecond resolution, which the fast rows
// (a few hundredths of a second at small sizes) need.
//
//	timeit -o times.txt -- rag search --json QUERY
//
// The command's stdout and stderr pass through; timeit exits with its code.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "file to append \"SECONDS MB CPU\" to (required)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: timeit -o FILE -- COMMAND [ARG...]")
		os.Exit(2)
	}
	code, err := run(*out, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "timeit:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run(out string, args []string) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, err // it did not start
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no rusage for the child")
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	// Linux reports maxrss in KiB.
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if _, err := fmt.Fprintf(f, "%.3f %.0f %.3f\n", wall.Seconds(), float64(ru.Maxrss)/1024, cpu.Seconds()); err != nil {
		_ = f.Close() // the write error is the one to report
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return cmd.ProcessState.ExitCode(), nil
}
