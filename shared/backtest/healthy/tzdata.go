package healthy

// The business-hours pattern follows New York's clock; the embedded zone
// database makes it independent of the machine's.
import _ "time/tzdata"
