import sys
from bench import workers
m = workers.measure(int(sys.argv[1]), float(sys.argv[2]))
workers.print_ratio(m); workers.print_table(m)
