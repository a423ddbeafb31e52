//go:build !linux

package main

import "os"

// toolPipe is a pipe for a restore tool's stdin.
func toolPipe() (r, w *os.File, err error) { return os.Pipe() }
