//go:build !linux

package filestat

import "os"

// Path is what Of says of the file at p (symbolic links followed).
func Path(p string) (Stat, error) {
	info, err := os.Stat(p)
	if err != nil {
		return Stat{}, err
	}
	return Of(info), nil
}
