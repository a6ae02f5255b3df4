"""AdamW vs Lion vs SGD (Nesterov), each at its usual learning rate and weight decay."""
import common

args = common.parse('optimizer')
grid = [('adamw', dict(optimizer='adamw', lr=1e-3, weight_decay=0.05)),
        ('lion', dict(optimizer='lion', lr=2e-4, weight_decay=0.25)),   # lr 5x lower, decay 5x higher
        ('sgd', dict(optimizer='sgd', lr=0.05, weight_decay=5e-4))]
common.summarise(args, common.run(args, grid))
