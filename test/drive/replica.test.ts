import { driveSuite } from './drive-suite.js'
import { replicaKit } from './kits.js'

driveSuite('replica', replicaKit)
