package portforward

import "time"

// readyTimeout bounds how long a forward may take to listen.
const readyTimeout = 30 * time.Second
