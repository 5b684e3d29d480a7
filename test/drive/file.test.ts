import { driveSuite } from './drive-suite.js'
import { fileKit } from './kits.js'

driveSuite('file', fileKit)
