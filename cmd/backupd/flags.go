package main

import (
	"github.com/spf13/cobra"

	"github.com/backupd/backupd/internal/config"
)

// configFlags are the flags every command that reads the config shares.
type configFlags struct {
	path    string
	listen  string
	dataDir string
}

func (f *configFlags) register(cmd *cobra.Command, overrides bool) {
	cmd.Flags().StringVarP(&f.path, "config", "c", "", "YAML config file (default: built-in defaults)")
	if overrides {
		cmd.Flags().StringVar(&f.listen, "listen", "", "listen address, overrides the config (default 127.0.0.1:8080)")
		cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "data directory, overrides the config (default ./backupd-data)")
	}
}

// load reads the config and applies the flag overrides.
func (f *configFlags) load() (config.Config, error) {
	cfg, err := config.Load(f.path)
	if err != nil {
		return cfg, err
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if f.dataDir != "" {
		cfg.DataDir = f.dataDir
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, cfg.Absolute()
}
