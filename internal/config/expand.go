package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// varRE matches ${NAME} and ${NAME:-default}. A bare $NAME is left alone so
// that passwords and cron lines containing '$' survive untouched.
var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} from the environment. An unset variable without
// a default is an error: a secret silently expanded to "" is worse than none.
func expandEnv(raw []byte) ([]byte, error) {
	var missing []string
	out := varRE.ReplaceAllFunc(raw, func(m []byte) []byte {
		sub := varRE.FindSubmatch(m)
		if v, ok := os.LookupEnv(string(sub[1])); ok {
			return []byte(v)
		}
		if len(sub[2]) > 0 {
			return sub[3]
		}
		missing = append(missing, string(sub[1]))
		return m
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable not set: %s (set it, or give a default with ${NAME:-value})", strings.Join(missing, ", "))
	}
	return out, nil
}
