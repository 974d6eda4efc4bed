# A Lambda that fails at import: it needs the device's Kinesis Video library, which the simulator lacks.
import DeepLens_Kinesis_Video as dkv

dkv.createProducer('key', 'secret', '', 'us-east-1')
