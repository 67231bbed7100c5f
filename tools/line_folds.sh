# tools/line_folds.sh (sourced by tools/train_models and tools/bench_transfer):
# the leave-lines-out folds of the 30 AZGCB lines, 6 held out in each. Each
# holds out one of the transfer benchmark's groups together, so that each
# fold's model is also the 30-line recipe's base for the group it never saw:
# SKBR3/BT474, A549/PC3, MCF10A/SUM149PT, HCC1395/KPL4, five NCI-H lung lines;
# the other lines are dealt out in name order.
LINE_FOLDS=(
    "SKBR3 BT474 A431 HCC827 KELLY MiaPaca2"
    "A549 PC3 HCC2279 HS-5 LNCAP SNU1411"
    "MCF10A SUM149PT HCC70 HT1080 LUHMES SNU601"
    "HCC1395 KPL4 HCC78 Hop62 MDAMB231 T47D"
    "NCIH1933 NCIH1975 NCIH2030 NCIH2073 NCIH358 LU99"
)

# fold_holding LINE...: the fold (1-5) that holds out every LINE; fails if none does.
fold_holding() {
    local k line
    for k in "${!LINE_FOLDS[@]}"; do
        for line in "$@"; do
            [[ " ${LINE_FOLDS[$k]} " == *" $line "* ]] || continue 2
        done
        echo $((k + 1))
        return 0
    done
    return 1
}
