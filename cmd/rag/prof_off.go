//go:build !ragprof

package main

// startProfile does nothing in a normal build: see prof_on.go.
func startProfile(func(string) string) (stop func()) { return func() {} }
