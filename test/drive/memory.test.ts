import { driveSuite } from './drive-suite.js'
import { memoryKit } from './kits.js'

driveSuite('memory', memoryKit)
