// The drive compliance suite on the hyperdrive@13 format: in memory, on disk,
// and read by a second store over real replication.
import { driveSuite } from './drive-suite.js'
import { memoryKit13, fileKit13, replicatedKit13 } from './kits.js'

driveSuite('hyperdrive13 memory', memoryKit13)
driveSuite('hyperdrive13 file', fileKit13)
driveSuite('hyperdrive13 replicated over a real replication stream', replicatedKit13)
