//go:build !faultinject || !unix

package main

// faultHook is nil in a normal build: rag has no fault points to reach.
func faultHook(func(string) string) func(string) { return nil }
