//go:build !unix

package store

import "os"

// mapFile reads the file at p whole where mapping is not available.
func mapFile(p string) ([]byte, func() error, error) {
	data, err := os.ReadFile(p)
	return data, func() error { return nil }, err
}
