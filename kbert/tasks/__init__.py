"""Task models built on kbert encoders (one file each)."""
