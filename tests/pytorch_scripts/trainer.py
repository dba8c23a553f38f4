"""A training loop written for PyTorch, in the style of common CIFAR trainers: a loss
module, SGD with a step schedule, running accuracy from ``outputs.max(1)``, a top-k
accuracy helper, and a checkpoint saved and loaded with torch.save / torch.load.
tests/test_pytorch_scripts.py runs it unchanged but for its imports."""

import torch
import torch.nn as nn
import torch.optim as optim


def accuracy(output, target, topk=(1,)):
    """Computes the precision@k for the specified values of k."""
    maxk = max(topk)
    batch_size = target.size(0)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    res = []
    for k in topk:
        correct_k = correct[:k].reshape(-1).float().sum(0)
        res.append(correct_k.mul_(100.0 / batch_size))
    return res


def train(model, batches, epochs, checkpoint_path):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = []
    for epoch in range(epochs):
        model.train()
        train_loss, correct, total, top1 = 0.0, 0, 0, 0.0
        for inputs, targets in batches:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            train_loss += loss.item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
            top1 += accuracy(outputs.data, targets, topk=(1,))[0].item()
        scheduler.step()
        history.append({"loss": train_loss, "correct": correct, "total": total, "top1": top1,
                        "lr": optimizer.param_groups[0]["lr"]})
    torch.save({"epoch": epochs, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict()},
               checkpoint_path)
    checkpoint = torch.load(checkpoint_path)
    model.load_state_dict(checkpoint["state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return history
