"""Write the bundled biomedical multiple-choice data (test.jsonl, train.jsonl) from facts written for evalkit.

Every fact below was written by hand for this benchmark (textbook medical genetics and molecular biology; no item
is copied from MMLU, PubMedQA or any other data set). Questions are built from the facts with fixed templates,
distractors are drawn from the same category, and the correct option's position is balanced over A-D. The split
is seeded: running this script again rewrites the same two files.

    python benchmarks/mcq/build_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240611
N_TEST = 60

AD, AR, XR, XD, MT = ("autosomal dominant", "autosomal recessive", "X-linked recessive", "X-linked dominant",
                      "mitochondrial (maternal)")

# (condition, gene, inheritance or None, chromosome of the gene or None)
DISORDERS = [
    ("cystic fibrosis", "CFTR", AR, "7"),
    ("sickle cell disease", "HBB", AR, "11"),
    ("Huntington disease", "HTT", AD, "4"),
    ("Duchenne muscular dystrophy", "DMD", XR, "X"),
    ("hemophilia A", "F8", XR, "X"),
    ("hemophilia B", "F9", XR, "X"),
    ("phenylketonuria", "PAH", AR, "12"),
    ("Marfan syndrome", "FBN1", AD, "15"),
    ("Tay-Sachs disease", "HEXA", AR, "15"),
    ("fragile X syndrome", "FMR1", None, "X"),
    ("neurofibromatosis type 1", "NF1", AD, "17"),
    ("achondroplasia", "FGFR3", AD, "4"),
    ("familial hypercholesterolemia", "LDLR", AD, "19"),
    ("spinal muscular atrophy", "SMN1", AR, "5"),
    ("hereditary hemochromatosis", "HFE", AR, "6"),
    ("Wilson disease", "ATP7B", AR, "13"),
    ("autosomal dominant polycystic kidney disease", "PKD1", AD, "16"),
    ("hereditary retinoblastoma", "RB1", AD, "13"),
    ("Rett syndrome", "MECP2", XD, "X"),
    ("myotonic dystrophy type 1", "DMPK", AD, "19"),
    ("Friedreich ataxia", "FXN", AR, "9"),
    ("Gaucher disease", "GBA1", AR, "1"),
    ("alpha-1 antitrypsin deficiency", "SERPINA1", None, "14"),
    ("Lesch-Nyhan syndrome", "HPRT1", XR, "X"),
    ("Fabry disease", "GLA", None, "X"),
    ("familial adenomatous polyposis", "APC", AD, "5"),
    ("Li-Fraumeni syndrome", "TP53", AD, "17"),
    ("von Hippel-Lindau disease", "VHL", AD, "3"),
    ("G6PD deficiency", "G6PD", XR, "X"),
    ("osteogenesis imperfecta type I", "COL1A1", AD, "17"),
    ("Menkes disease", "ATP7A", XR, "X"),
    ("congenital adrenal hyperplasia (21-hydroxylase deficiency)", "CYP21A2", AR, "6"),
    ("Leber hereditary optic neuropathy", "MT-ND4", MT, None),
    ("MELAS syndrome", "MT-TL1", MT, None),
    ("Noonan syndrome", "PTPN11", AD, "12"),
    ("hereditary breast and ovarian cancer syndrome", "BRCA1", AD, "17"),
    ("tuberous sclerosis complex", "TSC2", AD, "16"),
    ("X-linked hypophosphatemic rickets", "PHEX", XD, "X"),
]

# (syndrome, chromosomal finding)
CHROMOSOMAL = [
    ("Down syndrome", "trisomy 21"),
    ("Edwards syndrome", "trisomy 18"),
    ("Patau syndrome", "trisomy 13"),
    ("Turner syndrome", "45,X (monosomy X)"),
    ("Klinefelter syndrome", "47,XXY"),
    ("cri-du-chat syndrome", "deletion on 5p"),
    ("Williams syndrome", "deletion at 7q11.23"),
    ("DiGeorge syndrome", "deletion at 22q11.2"),
    ("chronic myeloid leukemia", "t(9;22), the Philadelphia chromosome"),
    ("Burkitt lymphoma", "t(8;14) involving MYC"),
]

# (trinucleotide repeat, condition)
REPEATS = [("CAG", "Huntington disease"), ("CGG", "fragile X syndrome"), ("CTG", "myotonic dystrophy type 1"),
           ("GAA", "Friedreich ataxia")]

# (question, correct answer, three distractors, topic)
FACTS = [
    ("In double-stranded DNA, adenine pairs with which base?", "thymine", ["cytosine", "guanine", "uracil"], "molecular"),
    ("In DNA, guanine pairs with which base?", "cytosine", ["adenine", "thymine", "uracil"], "molecular"),
    ("Which base is found in RNA in place of thymine?", "uracil", ["cytosine", "adenine", "inosine"], "molecular"),
    ("Which codon starts translation in most mRNAs?", "AUG", ["UAA", "UGA", "GUA"], "molecular"),
    ("Which amino acid does the start codon AUG encode?", "methionine", ["leucine", "tryptophan", "glycine"],
     "molecular"),
    ("Which of these is a stop codon?", "UAG", ["AUG", "UGG", "CAG"], "molecular"),
    ("How many different codons does the genetic code contain?", "64", ["20", "61", "43"], "molecular"),
    ("How many codons specify amino acids rather than stop?", "61", ["64", "60", "20"], "molecular"),
    ("Which enzyme synthesizes mRNA from a DNA template?", "RNA polymerase", ["DNA polymerase", "reverse transcriptase",
                                                                             "DNA ligase"], "molecular"),
    ("Which enzyme joins Okazaki fragments during DNA replication?", "DNA ligase", ["helicase", "primase",
                                                                                  "topoisomerase"], "molecular"),
    ("Which enzyme unwinds the DNA double helix at the replication fork?", "helicase",
     ["ligase", "telomerase", "RNA polymerase"], "molecular"),
    ("Which enzyme lays down the RNA primers used in DNA replication?", "primase",
     ["DNA ligase", "helicase", "reverse transcriptase"], "molecular"),
    ("Which enzyme relieves supercoiling ahead of the replication fork?", "topoisomerase",
     ["primase", "DNA ligase", "telomerase"], "molecular"),
    ("Which enzyme extends the ends of chromosomes in germ cells and stem cells?", "telomerase",
     ["primase", "DNA ligase", "helicase"], "molecular"),
    ("On which strand are Okazaki fragments made?", "the lagging strand",
     ["the leading strand", "the template RNA strand", "both strands equally"], "molecular"),
    ("Which enzyme makes complementary DNA from an RNA template?", "reverse transcriptase",
     ["RNA polymerase II", "DNA ligase", "primase"], "molecular"),
    ("Which molecule carries amino acids to the ribosome?", "transfer RNA", ["messenger RNA", "ribosomal RNA",
                                                                             "microRNA"], "molecular"),
    ("Where is the anticodon found?", "on transfer RNA", ["on messenger RNA", "on ribosomal RNA", "on the DNA "
                                                                                                 "coding strand"],
     "molecular"),
    ("Which complex removes introns from pre-mRNA?", "the spliceosome", ["the proteasome", "the ribosome",
                                                                         "the RISC complex"], "molecular"),
    ("What is added to the 3' end of most eukaryotic mRNAs?", "a poly(A) tail",
     ["a 7-methylguanosine cap", "a TATA box", "a Shine-Dalgarno sequence"], "molecular"),
    ("What is added to the 5' end of eukaryotic mRNAs?", "a 7-methylguanosine cap",
     ["a poly(A) tail", "an intron", "a telomere"], "molecular"),
    ("How many chromosomes are in a typical human somatic cell?", "46", ["23", "44", "48"], "cell"),
    ("How many chromosomes are in a normal human egg or sperm cell?", "23", ["46", "22", "24"], "cell"),
    ("How many cells does meiosis produce from one parent cell?", "four haploid cells",
     ["two diploid cells", "two haploid cells", "four diploid cells"], "cell"),
    ("In which phase does crossing over between homologous chromosomes occur?", "prophase I",
     ["metaphase II", "anaphase I", "telophase II"], "cell"),
    ("Failure of chromosomes to separate properly during meiosis is called", "nondisjunction",
     ["translocation", "crossing over", "inversion"], "cell"),
    ("From which parent is mitochondrial DNA inherited in humans?", "the mother",
     ["the father", "both parents equally", "neither; it arises anew"], "inheritance"),
    ("A point mutation that turns a codon into a stop codon is called", "a nonsense mutation",
     ["a missense mutation", "a silent mutation", "a frameshift mutation"], "mutation"),
    ("A point mutation that replaces one amino acid with another is called", "a missense mutation",
     ["a nonsense mutation", "a silent mutation", "an inversion"], "mutation"),
    ("A base substitution that leaves the encoded amino acid unchanged is called", "a silent mutation",
     ["a missense mutation", "a nonsense mutation", "a frameshift mutation"], "mutation"),
    ("Inserting a single nucleotide into a coding sequence usually causes", "a frameshift",
     ["a silent change", "a single amino-acid substitution", "no change to the protein"], "mutation"),
    ("Earlier onset or greater severity of a disorder in successive generations is called", "anticipation",
     ["penetrance", "imprinting", "mosaicism"], "inheritance"),
    ("The proportion of carriers of a genotype who show the phenotype is its", "penetrance",
     ["expressivity", "heritability", "pleiotropy"], "inheritance"),
    ("Variation in how severely carriers of the same genotype are affected is called", "variable expressivity",
     ["incomplete dominance", "anticipation", "heteroplasmy"], "inheritance"),
    ("One gene affecting several unrelated traits is called", "pleiotropy", ["epistasis", "linkage",
                                                                             "codominance"], "inheritance"),
    ("Expression of an allele that depends on the parent it came from is called", "genomic imprinting",
     ["anticipation", "X-inactivation", "heteroplasmy"], "inheritance"),
    ("A mixture of normal and mutant mitochondrial DNA in one cell is called", "heteroplasmy",
     ["homoplasmy", "aneuploidy", "polyploidy"], "inheritance"),
    ("Two copies of a chromosome inherited from the same parent is called", "uniparental disomy",
     ["trisomy", "mosaicism", "haploinsufficiency"], "inheritance"),
    ("The blood group alleles A and B, both expressed in AB individuals, show", "codominance",
     ["incomplete dominance", "epistasis", "anticipation"], "inheritance"),
    ("Loss of the paternal copy of 15q11-q13 causes which condition?", "Prader-Willi syndrome",
     ["Angelman syndrome", "Williams syndrome", "Turner syndrome"], "chromosomal"),
    ("Loss of maternal UBE3A expression causes which condition?", "Angelman syndrome",
     ["Prader-Willi syndrome", "Rett syndrome", "Noonan syndrome"], "chromosomal"),
    ("Which technique amplifies a specific DNA sequence exponentially?", "PCR", ["Western blot", "ELISA",
                                                                                 "flow cytometry"], "methods"),
    ("Which blot detects a specific protein?", "Western blot", ["Southern blot", "Northern blot",
                                                                "dot blot of DNA"], "methods"),
    ("Which blot detects a specific DNA sequence?", "Southern blot", ["Western blot", "Northern blot",
                                                                      "Eastern blot"], "methods"),
    ("Which blot detects a specific RNA?", "Northern blot", ["Southern blot", "Western blot", "Eastern blot"],
     "methods"),
    ("Sanger sequencing terminates chains with", "dideoxynucleotides", ["ribonucleotides", "restriction enzymes",
                                                                        "fluorescent antibodies"], "methods"),
    ("Which method locates a DNA probe on metaphase chromosomes?", "fluorescence in situ hybridization",
     ["gel electrophoresis", "mass spectrometry", "ELISA"], "methods"),
    ("Agarose gel electrophoresis separates DNA fragments mainly by", "size", ["sequence", "methylation",
                                                                               "GC content only"], "methods"),
    ("Which enzyme cuts DNA at specific recognition sequences?", "a restriction endonuclease",
     ["a DNA ligase", "a reverse transcriptase", "a DNA polymerase"], "methods"),
    ("In CRISPR-Cas9 editing, what guides Cas9 to its target?", "a guide RNA", ["a restriction site",
                                                                                 "a plasmid origin",
                                                                                 "a tRNA anticodon"], "methods"),
    ("Array comparative genomic hybridization detects", "copy-number changes",
     ["balanced translocations", "point mutations in every gene", "DNA methylation"], "methods"),
    ("What is the typical length of a mature human microRNA?", "about 22 nucleotides",
     ["about 200 nucleotides", "about 5 nucleotides", "about 2,000 nucleotides"], "mirna"),
    ("Which enzyme cleaves pre-miRNA hairpins in the cytoplasm?", "Dicer", ["Drosha", "Argonaute", "Exportin-5"],
     "mirna"),
    ("Which enzyme processes primary miRNA transcripts in the nucleus?", "Drosha", ["Dicer", "Argonaute",
                                                                                     "RNase H"], "mirna"),
    ("Which protein exports pre-miRNAs from the nucleus?", "Exportin-5", ["Dicer", "Importin-alpha", "Drosha"],
     "mirna"),
    ("Which protein family forms the core of the RNA-induced silencing complex?", "Argonaute",
     ["Dicer", "Drosha", "histone"], "mirna"),
    ("Where in a target mRNA do animal microRNAs most often bind?", "the 3' untranslated region",
     ["the 5' cap", "the start codon", "the intron branch point"], "mirna"),
    ("Which nucleotides of a microRNA form its seed region?", "positions 2 to 8",
     ["positions 15 to 22", "the last three nucleotides", "the entire length"], "mirna"),
    ("What is the main effect of a microRNA on its target mRNA?", "reduced protein output",
     ["increased translation", "DNA methylation of the gene", "alternative splicing into a longer protein"],
     "mirna"),
    ("TP53 is best described as", "a tumor suppressor gene", ["an oncogene", "a housekeeping pseudogene",
                                                              "a mitochondrial gene"], "cancer"),
    ("A gain-of-function mutation in KRAS makes it act as", "an oncogene", ["a tumor suppressor",
                                                                            "a DNA repair gene",
                                                                            "a microRNA"], "cancer"),
    ("The two-hit hypothesis was proposed from studies of", "retinoblastoma", ["Huntington disease",
                                                                               "cystic fibrosis",
                                                                               "Down syndrome"], "cancer"),
    ("Amplification of which gene guides trastuzumab treatment in breast cancer?", "ERBB2 (HER2)",
     ["BRCA2", "TP53", "APC"], "cancer"),
    ("Imatinib targets the kinase produced by which fusion gene?", "BCR-ABL1", ["EML4-ALK", "PML-RARA",
                                                                                 "TMPRSS2-ERG"], "cancer"),
    ("Which gene's variants predict poor conversion of codeine to morphine?", "CYP2D6", ["TPMT", "VKORC1",
                                                                                         "HLA-B"], "pharmaco"),
    ("Testing for which gene's variants is advised before thiopurine therapy?", "TPMT", ["CYP2D6", "BRCA1",
                                                                                         "LDLR"], "pharmaco"),
    ("HLA-B*57:01 testing is done before prescribing which drug?", "abacavir", ["warfarin", "codeine",
                                                                                "imatinib"], "pharmaco"),
    ("Variants in VKORC1 and CYP2C9 affect the dose of which drug?", "warfarin", ["abacavir", "metformin",
                                                                                  "azathioprine"], "pharmaco"),
    ("Two carriers of an autosomal recessive disorder have a child. The chance the child is affected is",
     "1 in 4", ["1 in 2", "3 in 4", "1 in 8"], "risk"),
    ("Two carriers of an autosomal recessive disorder have an unaffected child. The chance this child is a carrier "
     "is", "2 in 3", ["1 in 2", "1 in 4", "3 in 4"], "risk"),
    ("A parent heterozygous for an autosomal dominant disorder has a child with an unaffected partner. The chance "
     "the child inherits the variant is", "1 in 2", ["1 in 4", "3 in 4", "all children"], "risk"),
    ("A woman carries an X-linked recessive variant; her partner is unaffected. The chance each son is affected is",
     "1 in 2", ["1 in 4", "none", "all sons"], "risk"),
    ("A man affected by an X-linked recessive disorder has children with a non-carrier. His daughters will be",
     "all carriers", ["all affected", "half carriers", "all non-carriers"], "risk"),
    ("A man affected by an X-linked recessive disorder has children with a non-carrier. His sons will be",
     "all unaffected", ["all affected", "half affected", "all carriers"], "risk"),
    ("In the Hardy-Weinberg equation p^2 + 2pq + q^2 = 1, the term 2pq is the frequency of", "heterozygotes",
     ["homozygous dominant individuals", "homozygous recessive individuals", "the recessive allele"], "population"),
    ("Which bonds hold complementary bases together in the double helix?", "hydrogen bonds",
     ["peptide bonds", "disulfide bonds", "glycosidic bonds only"], "molecular"),
    ("In which direction does DNA polymerase synthesize a new strand?", "5' to 3'",
     ["3' to 5'", "both directions at once", "in no fixed direction"], "molecular"),
    ("Which sugar is part of DNA?", "deoxyribose", ["ribose", "glucose", "fructose"], "molecular"),
    ("Where does transcription take place in a eukaryotic cell?", "the nucleus",
     ["the cytoplasm", "the Golgi apparatus", "the lysosome"], "cell"),
    ("Which RNA polymerase transcribes protein-coding genes in eukaryotes?", "RNA polymerase II",
     ["RNA polymerase I", "RNA polymerase III", "primase"], "molecular"),
    ("Which type of RNA is the most abundant in a typical cell?", "ribosomal RNA",
     ["messenger RNA", "microRNA", "small nuclear RNA"], "molecular"),
    ("Methylation of CpG islands in a gene's promoter usually", "silences the gene",
     ["activates the gene", "causes a frameshift", "deletes the gene"], "epigenetics"),
    ("Which enzyme adds methyl groups to cytosines in DNA?", "DNA methyltransferase",
     ["histone acetyltransferase", "helicase", "DNA ligase"], "epigenetics"),
    ("Histone acetylation is generally associated with", "more active transcription",
     ["permanent gene deletion", "DNA replication errors", "chromosome nondisjunction"], "epigenetics"),
    ("Which gene's RNA starts X-chromosome inactivation?", "XIST", ["SRY", "DMD", "FMR1"], "epigenetics"),
    ("An inactivated X chromosome seen in female cell nuclei is called", "a Barr body",
     ["a nucleolus", "a centrosome", "a P-body"], "epigenetics"),
    ("Which Y-chromosome gene triggers male sex determination?", "SRY", ["XIST", "DMD", "FMR1"], "cell"),
    ("A cell with 69 chromosomes is", "triploid", ["trisomic", "monosomic", "haploid"], "chromosomal"),
    ("Ultraviolet light typically damages DNA by forming", "pyrimidine dimers",
     ["double-strand breaks only", "alkylated guanines", "interstrand crosslinks"], "repair"),
    ("Pyrimidine dimers are removed mainly by", "nucleotide excision repair",
     ["mismatch repair", "base excision repair", "non-homologous end joining"], "repair"),
    ("Xeroderma pigmentosum results from a defect in", "nucleotide excision repair",
     ["mismatch repair", "homologous recombination", "telomere maintenance"], "repair"),
    ("Inherited defects in DNA mismatch repair cause", "Lynch syndrome",
     ["Marfan syndrome", "Turner syndrome", "Huntington disease"], "repair"),
    ("BRCA1 and BRCA2 proteins take part in", "homologous recombination repair",
     ["mismatch repair", "nucleotide excision repair", "mRNA splicing"], "repair"),
    ("About how many protein-coding genes does the human genome contain?", "about 20,000",
     ["about 2,000", "about 200,000", "about 2 million"], "genome"),
    ("About how many base pairs are in the haploid human genome?", "about 3 billion",
     ["about 3 million", "about 300 million", "about 30 billion"], "genome"),
    ("Which parts of a gene remain in the mature mRNA?", "exons", ["introns", "the promoter",
                                                                    "the enhancers"], "molecular"),
    ("Children of consanguineous parents have a raised risk of which kind of disorder?", AR, [AD, XD, MT],
     "inheritance"),
    ("A disorder passed by an affected father to all of his daughters and none of his sons is most likely", XD,
     [XR, AD, MT], "inheritance"),
    ("A disorder passed by affected mothers, but never by affected fathers, to their children is most likely", MT,
     [XR, AD, AR], "inheritance"),
    ("The sweat chloride test is used to diagnose", "cystic fibrosis",
     ["phenylketonuria", "Wilson disease", "hemophilia A"], "clinical"),
    ("Which diet treats phenylketonuria?", "a diet low in phenylalanine",
     ["a diet low in copper", "a gluten-free diet", "a high-protein diet"], "clinical"),
    ("Copper accumulation in the liver and brain is characteristic of", "Wilson disease",
     ["Menkes disease", "hereditary hemochromatosis", "Gaucher disease"], "clinical"),
    ("Iron overload in adults is characteristic of", "hereditary hemochromatosis",
     ["Wilson disease", "Tay-Sachs disease", "Fabry disease"], "clinical"),
    ("Which amino-acid change in beta-globin causes sickle cell disease?", "glutamate to valine",
     ["valine to glutamate", "glycine to alanine", "lysine to arginine"], "clinical"),
    ("Which CFTR variant is the most common in people of European ancestry?", "F508del",
     ["G551D", "R117H", "W1282X"], "clinical"),
    ("A fragile X full mutation has more than about how many CGG repeats?", "200", ["20", "45", "5,000"],
     "mutation"),
    ("Which condition is NOT required for Hardy-Weinberg equilibrium?", "a large number of alleles per gene",
     ["random mating", "no selection", "no migration"], "population"),
]

# Autosomal recessive disease frequency (1 in N) -> approximate carrier frequency (1 in M), via 2pq with q = 1/sqrt(N).
HARDY_WEINBERG = [(10000, 50), (2500, 25), (40000, 100), (3600, 30), (900, 15), (1600, 20)]
CARRIER_CHOICES = ["1 in 15", "1 in 20", "1 in 25", "1 in 30", "1 in 50", "1 in 100", "1 in 200", "1 in 5000"]


def _items(rng: random.Random) -> list[dict]:
    """Every question: (question, answer, distractors, topic)."""
    out: list[tuple[str, str, list[str], str]] = []
    genes = [d[1] for d in DISORDERS if d[2] != MT]
    conditions = [d[0] for d in DISORDERS]
    for condition, gene, inheritance, chromosome in DISORDERS:
        others = [g for g in genes if g != gene]
        out.append((f"Variants in which gene cause {condition}?", gene, rng.sample(others, 3), "genes"))
        # Reverse questions avoid conditions sharing the gene (none here) and keep distractors of the same kind.
        out.append((f"Pathogenic variants in {gene} cause which condition?", condition,
                    rng.sample([c for c in conditions if c != condition], 3), "genes"))
        if inheritance is not None:
            patterns = [AD, AR, XR, XD, MT] if inheritance in (XD, MT) else [AD, AR, XR, MT]
            out.append((f"How is {condition} usually inherited?", inheritance,
                        rng.sample([p for p in patterns if p != inheritance], 3), "inheritance"))
        if chromosome is not None and chromosome != "X" and rng.random() < 0.6:
            numbers = [str(n) for n in range(1, 23) if str(n) != chromosome]
            out.append((f"On which chromosome is the {gene} gene located?", f"chromosome {chromosome}",
                        [f"chromosome {n}" for n in rng.sample(numbers, 3)], "genes"))
    findings = [f for _, f in CHROMOSOMAL]
    syndromes = [s for s, _ in CHROMOSOMAL]
    for syndrome, finding in CHROMOSOMAL:
        out.append((f"Which chromosomal finding underlies {syndrome}?", finding,
                    rng.sample([f for f in findings if f != finding], 3), "chromosomal"))
        out.append((f"The finding {finding} is characteristic of which condition?", syndrome,
                    rng.sample([s for s in syndromes if s != syndrome], 3), "chromosomal"))
    for repeat, condition in REPEATS:
        out.append((f"Expansion of which trinucleotide repeat causes {condition}?", repeat,
                    [r for r, _ in REPEATS if r != repeat], "mutation"))
    for n, m in HARDY_WEINBERG:
        answer = f"1 in {m}"
        out.append((f"An autosomal recessive disease affects 1 in {n:,} newborns in a population in Hardy-Weinberg "
                    f"equilibrium. About how common are carriers?", answer,
                    rng.sample([c for c in CARRIER_CHOICES if c != answer], 3), "population"))
    out += [(q, a, list(d), t) for q, a, d, t in FACTS]
    seen = set()
    for q, a, d, _ in out:
        assert q not in seen, f"duplicated question: {q}"
        assert len({a, *d}) == 4, f"options must be distinct: {q}"
        seen.add(q)
    return [{"question": q, "answer_text": a, "distractors": d, "topic": t} for q, a, d, t in out]


def build() -> tuple[list[dict], list[dict]]:
    """The (test, train) rows, deterministically."""
    rng = random.Random(SEED)
    items = _items(rng)
    rng.shuffle(items)
    rows = []
    for i, item in enumerate(items):
        letter = "ABCD"[i % 4]  # the correct position cycles, so every letter is right equally often
        options = list(item["distractors"])
        rng.shuffle(options)
        options.insert("ABCD".index(letter), item["answer_text"])
        rows.append({"question": item["question"], "options": options, "answer": letter, "topic": item["topic"]})
    test, train = rows[:N_TEST], rows[N_TEST:]
    for split, part in (("test", test), ("train", train)):
        for j, row in enumerate(part, 1):
            row["id"] = f"mcq-{split}-{j:03d}"
    return test, train


def main() -> None:
    """Rewrite test.jsonl and train.jsonl beside this script."""
    test, train = build()
    for name, rows in (("test.jsonl", test), ("train.jsonl", train)):
        keys = ("id", "question", "options", "answer", "topic")
        (HERE / name).write_text("".join(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n" for r in rows),
                                 encoding="utf-8")
        print(f"{name}: {len(rows)} items")


if __name__ == "__main__":
    main()
