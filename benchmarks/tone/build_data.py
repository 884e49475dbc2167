"""Write messages.jsonl (plain factual messages) and tone_eval.jsonl (the same messages in Mistral's chat
fine-tuning format, each with a hand-written Tally rewrite as the reference) for the tone benchmarks.

Every message and rewrite below was written for evalkit (Tally and every merchant are fictional). The last two
lines of tone_eval.jsonl are invalid on purpose (an empty assistant message; a conversation that ends on the
user), so the tone-chat suite's report shows how skipped lines are reported.

    python benchmarks/tone/build_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "Rewrite the app's message in Tally's tone of voice."

# (plain factual message, Tally rewrite)
PAIRS = [
    ("Your card payment of £12.40 to Green Bean Café was declined because your balance is £3.10, Amira.",
     "Amira, Green Bean Café's £12.40 didn't go through - your balance is £3.10 right now. The flat white will "
     "have to wait a moment."),
    ("Your salary of £2,150.00 from Northwind Ltd has arrived in your account.",
     "Payday! Your £2,150.00 from Northwind Ltd just landed. 🎉"),
    ("Your Tally Plus subscription payment of £4.99 failed, so budgeting reports are paused, Jonas.",
     "Jonas, your £4.99 Tally Plus payment didn't go through, so your budgeting reports are having a little "
     "nap for now."),
    ("You have spent £320 of your £400 monthly groceries budget.",
     "Groceries check-in: £320 of your £400 monthly budget is in the trolley. £80 to go!"),
    ("Your direct debit of £65.00 to Clearwater Water will be collected on 14 May.",
     "Heads up! Clearwater Water is popping by for its £65.00 direct debit on 14 May."),
    ("Your savings pot \"New bike\" has reached its goal of £750, Priya.",
     "Priya, start pedalling: your \"New bike\" pot just hit its £750 goal! 🚲"),
    ("A refund of £23.50 from Parcelly has been added to your account.",
     "Good news travels fast: Parcelly has sent back £23.50 to your account."),
    ("Your account balance is £0.00.",
     "Your balance is sitting at a very zen £0.00 right now."),
    ("You were charged £1.50 for an ATM withdrawal abroad on 2 April.",
     "Quick note: that ATM withdrawal abroad on 2 April came with a £1.50 charge."),
    ("Your card ending 4821 has been frozen at your request.",
     "Done! Your card ending 4821 is now frozen, just like you asked. ❄️"),
    ("Your new card will arrive within 5 working days, Leo.",
     "Leo, your shiny new card is on its way and will arrive within 5 working days."),
    ("You spent £86.20 on takeaways this week, £30.40 more than last week.",
     "Takeaway tally: £86.20 this week, which is £30.40 more than last week. Tasty week!"),
    ("Your overdraft limit is £250 and you are currently using £180 of it.",
     "Overdraft update: you're using £180 of your £250 limit right now. We've got you."),
    ("Your transfer of £40.00 to Sam Okafor was sent successfully.",
     "Whoosh! Your £40.00 is on its way to Sam Okafor."),
    ("Your transfer of £500.00 to Harbour Lettings could not be completed because the account details were "
     "rejected by the receiving bank.",
     "Hmm, your £500.00 transfer to Harbour Lettings didn't go through: the receiving bank rejected the account "
     "details."),
    ("Your Tally Plus free trial ends on 30 June.",
     "Psst: your Tally Plus free trial wraps up on 30 June."),
    ("You have £15.60 left in your entertainment budget for October, Chloe.",
     "Chloe, there's £15.60 left in your October entertainment budget. Choose your fun wisely!"),
    ("Your rent payment of £1,200.00 to Maple Homes is scheduled for 1 September.",
     "Rent reminder: your £1,200.00 to Maple Homes is all set for 1 September."),
    ("A payment of £9.99 to FitZone has been made from your account.",
     "FitZone just took its £9.99 from your account. Go get those gains!"),
    ("Your cash advance request of £100 was approved and the money will be in your account within 2 hours.",
     "Yes! Your £100 cash advance is approved and will be in your account within 2 hours."),
    ("Your cash advance request of £150 was not approved.",
     "Sorry, your £150 cash advance request wasn't approved this time."),
    ("Your round-ups saved £7.35 this week.",
     "Small change, big vibes: your round-ups saved £7.35 this week. 🐷"),
    ("You received £25.00 from Grandma Rose.",
     "Grandma Rose has sent you £25.00. Someone's a favourite!"),
    ("The interest rate on your savings pot is 3.1% per year.",
     "Your savings pot is earning 3.1% per year. Quietly growing away!"),
    ("Your password was changed on 12 January at 18:42.",
     "Just so you know: your password was changed on 12 January at 18:42."),
    ("We could not verify your identity because the photo of your passport was blurry, Tomasz.",
     "Tomasz, we couldn't verify your identity: the photo of your passport came out blurry."),
    ("Your bill of £54.30 from Skyline Mobile is due on 21 February.",
     "Skyline Mobile's £54.30 bill is due on 21 February. Just keeping you in the loop!"),
    ("You spent £0 on coffee this week.",
     "£0 on coffee this week! Your wallet is doing a happy dance."),
    ("Your budget for eating out was exceeded by £22.75 this month, Noor.",
     "Noor, eating out went £22.75 over budget this month. It happens to the best of us!"),
    ("Your standing order of £200 to your \"Rainy day\" pot was paid on 28 March.",
     "£200 just skipped over to your \"Rainy day\" pot on 28 March. Umbrella fund growing!"),
    ("A new device, Pixel 8, signed in to your account on 5 August.",
     "Heads up: a new device, a Pixel 8, signed in to your account on 5 August."),
    ("Your card payment of £3.80 at Harbour Bakery was approved.",
     "Harbour Bakery's £3.80 went through. Enjoy the treat!"),
    ("Your monthly statement for November is ready to view.",
     "Your November statement is ready and waiting for you."),
    ("Your payment to Lumen Broadband of £32.00 was returned because the mandate was cancelled.",
     "Your £32.00 payment to Lumen Broadband came back because the mandate was cancelled."),
    ("Your spending this month is £1,430, which is £210 less than last month, Daniel.",
     "Daniel, you've spent £1,430 this month: £210 less than last month. Nicely done!"),
    ("Your \"Holiday\" pot has £340 of its £1,000 goal.",
     "Your \"Holiday\" pot is at £340 of its £1,000 goal. The beach is getting closer!"),
]


def main() -> None:
    """Rewrite messages.jsonl and tone_eval.jsonl beside this script."""
    messages = [{"id": f"tone-{i:03d}", "text": m} for i, (m, _) in enumerate(PAIRS, 1)]
    (HERE / "messages.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in messages),
                                         encoding="utf-8")
    lines = [{"id": f"tone-{i:03d}", "messages": [{"role": "system", "content": SYSTEM},
                                                   {"role": "user", "content": m},
                                                   {"role": "assistant", "content": r}]}
             for i, (m, r) in enumerate(PAIRS, 1)]
    # Two invalid lines, on purpose (see the module docstring).
    lines.append({"id": "invalid-empty", "messages": [{"role": "user", "content": PAIRS[0][0]},
                                                      {"role": "assistant", "content": ""}]})
    lines.append({"id": "invalid-last", "messages": [{"role": "user", "content": PAIRS[1][0]},
                                                     {"role": "assistant", "content": PAIRS[1][1]},
                                                     {"role": "user", "content": "Thanks!"}]})
    (HERE / "tone_eval.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines),
                                          encoding="utf-8")
    for (m, r) in PAIRS:
        assert len(r.split()) <= 60, r
    print(f"messages.jsonl: {len(messages)} messages; tone_eval.jsonl: {len(lines)} lines (2 invalid on purpose)")


if __name__ == "__main__":
    main()
