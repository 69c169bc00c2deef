package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sigmawatch/sigmawatch/shared/yaceimport"
)

// importYACEConfig writes the collect.yaml translated from a YACE config to
// stdout; what could not be translated is in its leading comments.
func importYACEConfig(path string, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("-import-yace: %w", err)
	}
	res, err := yaceimport.Translate(data)
	if err != nil {
		return fmt.Errorf("-import-yace %s: %w", path, err)
	}
	_, err = stdout.Write(res.Config)
	return err
}
