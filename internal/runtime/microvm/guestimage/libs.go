package guestimage

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// LibDirs are where Debian keeps shared libraries on amd64.
var LibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib"}

// Libraries returns the files a dynamic executable needs to run: its
// interpreter and every library it links, transitively (what ldd prints).
func Libraries(exe string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var walk func(path string) error
	walk = func(path string) error {
		f, err := elf.Open(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b := make([]byte, p.Filesz)
				if _, err := p.ReadAt(b, 0); err != nil {
					return fmt.Errorf("reading the interpreter of %s: %w", path, err)
				}
				interp := string(b[:len(b)-1]) // NUL-terminated
				if !seen[interp] {
					seen[interp] = true
					out = append(out, interp)
				}
			}
		}
		needed, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("reading the libraries of %s: %w", path, err)
		}
		for _, lib := range needed {
			found := ""
			for _, d := range LibDirs {
				if _, err := os.Stat(filepath.Join(d, lib)); err == nil {
					found = filepath.Join(d, lib)
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s needs %s, found in none of %v", path, lib, LibDirs)
			}
			if seen[found] {
				continue
			}
			seen[found] = true
			out = append(out, found)
			if err := walk(found); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(exe); err != nil {
		return nil, err
	}
	return out, nil
}
