package runner

import "time"

// cronLocation is the time zone schedules are read in: the machine's local
// zone, as with cron(8).
var cronLocation = time.Local
