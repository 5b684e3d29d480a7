import { driveSuite } from './drive-suite.js'
import { replicatedKit } from './kits.js'

driveSuite('replicated over a real replication stream', replicatedKit)
